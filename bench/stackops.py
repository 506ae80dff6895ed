"""Small operations on a running local stack that every phase uses."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

from bench.load import LoadResult
from bench.resources import cpu_seconds
from harness.stack import LocalStack

# More throw-away messages than open polls: one per stopped worker (prefetch <= 10 each).
ORPHAN_FLUSH_MESSAGES = 10
ORPHAN_FLUSH_S = 0.5
T = TypeVar("T")


_STARTED = time.monotonic()


def say(message: str) -> None:
    """Progress on stderr (stdout carries the table), with the seconds since start."""
    print(f"[bench {time.monotonic() - _STARTED:5.0f}s] {message}", file=sys.stderr, flush=True)


def empty_queue(stack: LocalStack) -> None:
    """Start each phase from an empty task queue, with no stopped worker's poll pending.

    moto's server does not notice that a client went away: the long poll of a stopped
    worker stays open up to its wait time and would take (hide) the next message sent.
    A few throw-away messages end such polls; the purge then removes them all.
    """
    sqs = stack.client("sqs")
    for _ in range(ORPHAN_FLUSH_MESSAGES):
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody="flush")
    time.sleep(ORPHAN_FLUSH_S)
    sqs.purge_queue(QueueUrl=stack.queue_url)


def sample_body(stack: LocalStack) -> str:
    """The body of one real Celery message in the queue, left visible."""
    messages = stack.client("sqs").receive_message(
        QueueUrl=stack.queue_url, MaxNumberOfMessages=1, VisibilityTimeout=0
    )["Messages"]
    body: str = messages[0]["Body"]
    return body


def require_all(result: LoadResult, total: int, what: str) -> LoadResult:
    """Fail the run when a load did not complete every call."""
    if result.ok != total:
        raise RuntimeError(f"{what}: {result.ok}/{total} ok, first error {result.first_error}")
    return result


def cpu_during(
    stack: LocalStack, action: Callable[[], T], web: str = "web"
) -> tuple[T, dict[str, float]]:
    """Run `action`; also return the CPU seconds moto's server, the web (the process named
    `web`) and this process spent."""
    named = {"aws": "aws", "web": web}
    pids = {
        key: next(p.pid for p in stack.processes if p.name == name) for key, name in named.items()
    }
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    client_before = time.process_time()
    result = action()
    spent = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    spent["client"] = time.process_time() - client_before
    return result, spent


def per(spent_s: float, count: int) -> float:
    """CPU milliseconds per item."""
    return spent_s * 1000 / count
