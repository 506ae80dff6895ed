"""This project's worker app, unchanged, plus task start/end stamps for the benchmark.

`celery --app=bench.project_worker:celery worker ...` with the image's own flags.
"""

from worker_service.worker import celery

from bench import stamps

stamps.connect(celery)

__all__ = ["celery"]
