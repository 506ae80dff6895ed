# The benchmark. Included from the root Makefile.
#
#   make bench            # full run (under 30 min): writes bench/results.json and bench/results.md
#   make bench QUICK=1    # short smoke run (about 6.5 min on a loaded machine): bench/tmp/quick/
#   make bench-metrics    # only the task metrics' cost (about 3 min): into bench/results.*
#   make bench-isolation  # only the queues' isolation (about 10 min): into bench/results.*
#   make bench-rate-limit # only the rate limit's figures: into bench/results.*
#
# Starts its own local stack (moto server, worker, web) on free ports and stops it by PID.
# bench/README.md says what each figure measures and what limits it.

QUICK ?=

.PHONY: bench  ## Measure latency, throughput, idle cost and memory vs the seed (QUICK=1: short run)
bench: .python-deps
	$(RUN) python -m bench.run $(if $(filter-out 0,$(QUICK)),--quick)

.PHONY: bench-metrics  ## Only the task metrics' cost: worker CPU per task, TASK_METRICS off vs on
bench-metrics: .python-deps
	$(RUN) python -m bench.metrics_cost $(if $(filter-out 0,$(QUICK)),--quick)

.PHONY: bench-isolation  ## Only the queues' isolation: pickup on the default queue, idle and behind a reports backlog
bench-isolation: .python-deps
	$(RUN) python -m bench.isolation $(if $(filter-out 0,$(QUICK)),--quick)
.PHONY: bench-rate-limit  ## Only the rate limit's figures: starts per second across 3 workers, requests per task
bench-rate-limit: .python-deps
	$(RUN) python -m bench.rate_limit $(if $(filter-out 0,$(QUICK)),--quick)
