"""A liveness signal: remote control is off on SQS, so `celery inspect ping` cannot work.

A consumer bootstep touches a file every few seconds from the worker's own event loop; it
stops when the consumer stops (shutdown, lost connection), and the health check reads the
file's age.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from celery import bootsteps
from taskqueue.app_settings import settings_of

logger = logging.getLogger(__name__)


def touch(path: Path) -> None:
    """Create the file or bump its modification time."""
    path.touch()
    os.utime(path)


class LivenessFile(bootsteps.StartStopStep):  # type: ignore[misc]
    """Touches the liveness file (WORKER_HEARTBEAT_FILE) while the consumer runs."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        super().__init__(consumer, **kwargs)
        settings = settings_of(consumer.app.flask_app)
        self.path = Path(settings.worker_heartbeat_file)
        self.interval = settings.worker_heartbeat_interval
        self.timer_entry: Any = None

    def start(self, consumer: Any) -> None:
        touch(self.path)
        self.timer_entry = consumer.timer.call_repeatedly(self.interval, touch, (self.path,))
        logger.info("heartbeat every %.1fs in %s", self.interval, self.path)

    def stop(self, consumer: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None
        self.path.unlink(missing_ok=True)

    shutdown = stop
