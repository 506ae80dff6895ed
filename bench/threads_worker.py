"""This project's worker app with task stamps (bench.project_worker) on Celery's thread pool.

`worker_pool` in the app's configuration is what `celery worker` uses when `--pool` is not
given, so the worker image's flags stay unchanged (bench.pools compares the pools).
"""

from bench.project_worker import celery

celery.conf.worker_pool = "threads"

__all__ = ["celery"]
