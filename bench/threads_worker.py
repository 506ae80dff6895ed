"""This project's worker app with task stamps (bench.project_worker) on Celery's thread pool.

`worker_pool` in the app's configuration is what `celery worker` uses when `--pool` is not
given, so the worker image's flags stay unchanged (bench.pools compares the pools). The
worker refuses any pool but prefork (worker_service.pool_choice): the bench measures the one
it refuses, so this app alone lets it start.
"""

from celery import signals
from worker_service.worker import refuse_other_pools

from bench.project_worker import celery

signals.worker_init.disconnect(refuse_other_pools)
celery.conf.worker_pool = "threads"

__all__ = ["celery"]
