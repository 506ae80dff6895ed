"""Tasks that fail on purpose: smoke tests for the retry and dead-letter path.

`fail` raises; `crash` kills its own pool process. Neither is ever acknowledged, so SQS
delivers it again after the visibility timeout and moves it to the dead-letter queue after
MAX_RECEIVE_COUNT receives, while other tasks keep flowing.
"""

from __future__ import annotations

import os
import signal

from celery import Task
from pydantic import Field

from taskqueue.tasks.registry import TaskParams, register


class FailParams(TaskParams):
    """Parameters of fail."""

    message: str = Field("boom", max_length=200, description="The error message to raise.")


@register(FailParams)
def fail(self: Task, message: str) -> None:
    """Always raise RuntimeError(message): exercises retries and the dead-letter queue."""
    raise RuntimeError(message)


class CrashParams(TaskParams):
    """crash takes no parameters."""


@register(CrashParams)
def crash(self: Task) -> None:
    """Kill the pool process running this task (SIGKILL): exercises a lost worker."""
    os.kill(os.getpid(), signal.SIGKILL)
