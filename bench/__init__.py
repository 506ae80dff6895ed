"""`make bench`: latency, throughput, idle cost and memory on the local stack.

Each measurement is its own module; `bench.run` runs them for this project's Celery
configuration and for the seed article's, beside plain boto3 baselines, and writes
`bench/results.json` and `bench/results.md`.
"""
