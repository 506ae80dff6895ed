"""On SIGTERM, a task that cannot finish within the soft shutdown is handed back at once.

SIGTERM (a Spot interruption, a deploy or scale-in of an unprotected task, Ctrl-C of
`make worker`) starts Celery's warm shutdown, which waits for the running tasks; ECS kills
the container after its stopTimeout (120 s), and a task killed then would wait a whole
visibility timeout before another worker got it. A task whose soft time limit leaves it
more than WORKER_SOFT_SHUTDOWN_TIMEOUT to run may not finish in that window, so its pool
process is stopped at once: Celery puts the message back as for any lost pool process, and
the transport makes it visible immediately and ends its lease (taskqueue.runtime.sqs_transport).
Shorter tasks finish on the stopping worker, as before.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterable
from typing import Any

from celery.worker import state as worker_state
from taskqueue.settings import Settings

logger = logging.getLogger(__name__)


def may_outlast(request: Any, budget: float, now: float) -> bool:
    """The request's task could still be running after `budget` seconds."""
    _, soft = request.time_limits or (None, None)
    limit = soft or request.task.soft_time_limit
    if limit is None:
        return True
    elapsed = now - (request.time_start or now)
    return bool(limit - elapsed > budget)


def hand_back_long_tasks(
    settings: Settings, requests: Iterable[Any] = worker_state.active_requests
) -> list[str]:
    """Stop the pool process of every running task that may outlast the soft shutdown; their
    ids (Celery hands each message back as for a lost pool process)."""
    now = time.time()
    handed_back = []
    for request in list(requests):
        pid = request.worker_pid
        if pid and may_outlast(request, settings.worker_soft_shutdown_timeout, now):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            handed_back.append(request.id)
    return handed_back
