"""A soft stop that no AWS SDK call swallows.

A running task is stopped softly with SIGUSR1: at its soft time limit (billiard's timer) and
on a cancel (taskqueue.runtime.visibility_extension). billiard's handler raises
SoftTimeLimitExceeded wherever the task's thread is; inside an SDK call (its own progress write, any
boto3 call in its body) botocore catches the exception while it reads the answer and retries the
request, so the stop is lost: the task runs on, and a cancelled one is killed after
TASK_CANCEL_GRACE without its clean-up. This handler raises only outside the SDK; a signal that
lands inside is sent again a random moment later (random: a task that calls the SDK at a steady pace
would otherwise be hit at the same point each time), until it lands in the task's own code. A task
that never leaves the SDK is not stopped softly: a cancel's grace then ends in a kill, as before.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from celery.exceptions import SoftTimeLimitExceeded

# Modules whose frames catch any exception of a request in flight (botocore retries it).
SDK_MODULES = ("botocore.", "urllib3.")
# The next try comes this long after a signal that landed inside the SDK (random in it).
AGAIN_AFTER_SECONDS = (0.01, 0.1)


def inside_sdk(frame: FrameType | None) -> bool:
    """Whether `frame` or a caller of it is the SDK's code."""
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith(SDK_MODULES):
            return True
        frame = frame.f_back
    return False


_runs: list[object] = []  # the task run in progress in this process (`stoppable`)


@contextmanager
def stoppable() -> Iterator[None]:
    """Around a task's body: a stop sent again after an SDK call reaches this run, never the
    code after it or the next task."""
    run = object()
    _runs.append(run)
    try:
        yield
    finally:
        _runs.remove(run)


def _again(run: object, signum: int) -> None:
    if _runs and _runs[-1] is run:
        os.kill(os.getpid(), signum)


def _soft_stop(signum: int, frame: FrameType | None) -> None:
    if not _runs or not inside_sdk(frame):
        raise SoftTimeLimitExceeded()
    again = random.uniform(*AGAIN_AFTER_SECONDS)
    threading.Timer(again, _again, (_runs[-1], signum)).start()


def install() -> None:
    """Make SIGUSR1 this process's soft stop (from its main thread; elsewhere nothing)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, _soft_stop)
