"""The dead-letter sweep's thread: every DEAD_LETTER_SWEEP_INTERVAL seconds, one look into
the DLQ for tasks whose last receive no run saw (taskqueue.runtime.dead_letter_sweep).

A thread in the main process, started once the pool has forked and stopped with the worker,
with SQS and DynamoDB clients of its own: the event loop that receives and acknowledges
messages never waits on it, and the result backend's client, which the pool processes
inherit unused (worker_service.worker), stays unused here. Each worker sweeps: an idle worker's
look costs one ReceiveMessage. The first look waits one interval, so a worker that starts
and stops at once makes none.
"""

from __future__ import annotations

import logging
import threading

from celery import Celery
from taskqueue.app_settings import settings_of
from taskqueue.runtime.celery_config import aws_client
from taskqueue.runtime.dead_letter_sweep import sweep

logger = logging.getLogger(__name__)


class DeadLetterSweep:
    """Sweeps the DLQ from `start()` until `stop()`."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery
        self.settings = settings_of(celery.flask_app)
        # The DLQ of the worker's own queue: its role may receive from no other.
        self.dlq_url = self.settings.queue_address(self.settings.worker_queue).dlq_url
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dead-letter-sweep", daemon=True)

    def start(self) -> DeadLetterSweep:
        self._thread.start()
        return self

    def _run(self) -> None:
        sqs = aws_client("sqs", self.settings)
        # Celery makes a result backend per thread: this one, and its client, are this
        # thread's own, never the one the pool processes inherited.
        backend = self.celery.backend
        interval = self.settings.dead_letter_sweep_interval
        logger.info("dead-letter sweep every %.1fs", interval)
        while not self._stopped.wait(interval):
            try:
                for task_id in sweep(backend, sqs, self.dlq_url):
                    logger.warning("task %s found in the dead-letter queue: recorded", task_id)
            except Exception as error:  # the next look tries again
                logger.warning("the dead-letter sweep failed: %s", error)

    def stop(self) -> None:
        """No more looks."""
        self._stopped.set()
        self._thread.join(timeout=2 * self.settings.aws_client_read_timeout + 1)
