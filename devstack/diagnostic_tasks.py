"""Tasks that fail on purpose: smoke tests for the retry and dead-letter path.

`fail` raises; `crash` kills its own pool process. Neither is ever acknowledged, so SQS
delivers it again after the visibility timeout and moves it to the dead-letter queue after
MAX_RECEIVE_COUNT receives, while other tasks keep flowing. `check_secret` proves a worker
reads its secret variables at run time, and fails like `fail` when the value differs.
`retry_then_succeed` retries with a backoff (`self.retry(countdown=…)`, a delayed message,
taskqueue.catalogue.delays) before it succeeds, or fails for good once its retries are used up.
`limited` is rate-limited (5/s, burst 1, across all workers: taskqueue.runtime.rate_gate) and
says when and where its body started. `param_digest` says the size and SHA-256 of the text it
was given, and `sized_result` returns a text of the size asked for: the paths of parameters and
results too large for SQS and DynamoDB (taskqueue.runtime.large_messages,
taskqueue.stores.large_results). `frequent_progress` reports progress every 0.1 s, far
more often than it is written (taskqueue.runtime.progress_writes).

For test and local stacks only: they are offered where DIAGNOSTIC_TASKS is on (`local.env`,
the tests' stacks), never in production (`crash` would let any client take worker slots
down, `check_secret` would answer guesses of a secret's value).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from celery import Task
from pydantic import Field
from taskqueue import TaskParams, register
from taskqueue import secrets as task_secrets
from taskqueue.stores.results import PROGRESS


def diagnostic(params: type[TaskParams]) -> Callable[[Callable[..., Any]], Task]:
    """`register` for a diagnostic task: offered only with DIAGNOSTIC_TASKS."""
    return register(params, diagnostic=True)


class FailParams(TaskParams):
    """Parameters of fail."""

    message: str = Field("boom", max_length=200, description="The error message to raise.")


@diagnostic(FailParams)
def fail(self: Task, message: str) -> None:
    """Always raise RuntimeError(message): exercises retries and the dead-letter queue."""
    raise RuntimeError(message)


class CrashParams(TaskParams):
    """crash takes no parameters."""


@diagnostic(CrashParams)
def crash(self: Task) -> None:
    """Kill the pool process running this task (SIGKILL): exercises a lost worker."""
    os.kill(os.getpid(), signal.SIGKILL)


class CheckSecretParams(TaskParams):
    """Parameters of check_secret."""

    name: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=128,
        description="A secret variable of the worker (TASK_SECRETS).",
    )
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="The SHA-256 (hex) its value should have."
    )


class SecretMismatch(RuntimeError):
    """The secret's value is not the one the caller expected."""


@diagnostic(CheckSecretParams)
def check_secret(self: Task, name: str, sha256: str) -> dict[str, bool]:
    """Read the secret variable `name` at run time: succeed if its SHA-256 is `sha256`, else
    raise an error that shows the secret as SecretStr prints it (masked)."""
    value = task_secrets.get(name)
    if hashlib.sha256(value.get_secret_value().encode()).hexdigest() != sha256:
        raise SecretMismatch(f"{name}={value!r} does not have SHA-256 {sha256}")
    return {"matches": True}


class RetryParams(TaskParams):
    """Parameters of retry_then_succeed."""

    failures: int = Field(1, ge=0, le=5, description="Runs that fail, each retried, first.")
    countdown: int = Field(
        1, ge=0, le=900, description="Seconds from a failed run to its retry (the backoff)."
    )
    max_retries: int = Field(
        3, ge=0, le=5, description="Retries allowed; a failure after the last one is final."
    )


class PlannedFailure(RuntimeError):
    """One of the failures retry_then_succeed was asked for."""


@diagnostic(RetryParams)
def retry_then_succeed(
    self: Task, failures: int, countdown: int, max_retries: int
) -> dict[str, int]:
    """Fail `failures` times, each retried after `countdown` s (at most `max_retries`), then
    succeed: exercises retries with backoff and, past max_retries, the dead-letter queue."""
    retries = self.request.retries
    if retries < failures:
        error = PlannedFailure(f"failure {retries + 1} of {failures}")
        raise self.retry(exc=error, countdown=countdown, max_retries=max_retries)
    return {"retries": retries}


class LimitedParams(TaskParams):
    """limited takes no parameters."""


# The rate of `limited`: the tests and the bench count its starts against it.
LIMITED_RATE = "5/s"
LIMITED_BURST = 1


@register(LimitedParams, diagnostic=True, rate_limit=LIMITED_RATE, rate_burst=LIMITED_BURST)
def limited(self: Task) -> dict[str, float | str | None]:
    """Start at most 5 times a second across all workers (burst 1): says when its body
    started (Unix time), on which worker process, and the turn it was sent back for (None:
    it started on its first delivery)."""
    return {
        "started": time.time(),
        "worker": f"{socket.gethostname()}:{os.getppid()}",
        "turn": getattr(self.request, "rate_turn", None),
    }


class ParamDigestParams(TaskParams):
    """Parameters of param_digest."""

    data: str = Field(description="Any text, of any size the web accepts.")


@diagnostic(ParamDigestParams)
def param_digest(self: Task, data: str) -> dict[str, int | str]:
    """The size (UTF-8 bytes) and SHA-256 of `data` as the task received it."""
    encoded = data.encode()
    return {"bytes": len(encoded), "sha256": hashlib.sha256(encoded).hexdigest()}


# The largest result sized_result makes: a tenth of a worker's memory at the smallest sizes.
MAX_SIZED_RESULT = 20 * 1024 * 1024


class SizedResultParams(TaskParams):
    """Parameters of sized_result."""

    size: int = Field(ge=0, le=MAX_SIZED_RESULT, description="Characters of the result.")


@diagnostic(SizedResultParams)
def sized_result(self: Task, size: int) -> str:
    """A text of `size` ASCII characters (its JSON: `size` + 2 bytes), `sized_text(size)`."""
    return sized_text(size)


def sized_text(size: int) -> str:
    """The text sized_result returns: the digits 0-9 over and over, `size` characters."""
    return ("0123456789" * (size // 10 + 1))[:size]


class FrequentProgressParams(TaskParams):
    """Parameters of frequent_progress."""

    duration: float = Field(3, gt=0, le=30, description="Seconds of reports.")
    every: float = Field(0.1, gt=0, le=5, description="Seconds between two reports.")
    hold: float = Field(
        0, ge=0, le=30, description="Seconds it keeps running after its last report."
    )


@diagnostic(FrequentProgressParams)
def frequent_progress(self: Task, duration: float, every: float, hold: float) -> dict[str, int]:
    """Report PROGRESS every `every` s for `duration` s ({current, total}, the last one
    total/total), then run `hold` s more: exercises the coalesced progress writes."""
    total = round(duration / every)
    for step in range(1, total + 1):
        time.sleep(every)
        self.update_state(state=PROGRESS, meta={"current": step, "total": total})
    time.sleep(hold)
    return {"reports": total}
