"""The seed article's worker configuration, on this project's worker app.

The seed polls SQS with ``polling_interval`` 5 and ``wait_time_seconds`` 5 and acknowledges
a message as soon as a pool process takes it (early acknowledgement). Everything else is the
project's configuration, so the comparison isolates those three settings.
`celery --app=bench.seed_worker:celery worker ...` with the image's own flags.
"""

from worker_service.worker import celery

from bench import stamps

SEED_TRANSPORT_OPTIONS = {"polling_interval": 5, "wait_time_seconds": 5}

celery.conf.broker_transport_options = {
    **celery.conf.broker_transport_options,
    **SEED_TRANSPORT_OPTIONS,
}
celery.conf.task_acks_late = False
stamps.connect(celery)

__all__ = ["celery"]
