"""Start and end stamps of each task, written by the worker's pool processes.

The benchmark's worker apps connect these signal handlers; each appends one line
``<task_id> <start|end|queued> <unix time>`` to the file named by ``BENCH_STAMPS_FILE``.
Short ``O_APPEND`` writes from several processes never interleave. "queued" is SQS's own
``SentTimestamp`` of the delivery (milliseconds: when the queue accepted the message), which
the worker asks for beside ``ApproximateReceiveCount``; written just before the start.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery, signals
from taskqueue.runtime.dead_letters import sqs_message

STAMPS_FILE_VAR = "BENCH_STAMPS_FILE"
SENT_TIMESTAMP = "SentTimestamp"


def _append(kind: str, task_id: str | None, at: float | None = None) -> None:
    path = os.environ.get(STAMPS_FILE_VAR)
    if not path or not task_id:
        return
    line = f"{task_id} {kind} {time.time() if at is None else at:.6f}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _on_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    sent_ms = (sqs_message(task.request).get("Attributes") or {}).get(SENT_TIMESTAMP)
    if sent_ms is not None:  # before the start: whoever sees the start finds it
        _append("queued", task_id, int(sent_ms) / 1000)
    _append("start", task_id)


def _on_postrun(task_id: str | None = None, **_: Any) -> None:
    _append("end", task_id)


def connect(app: Celery) -> None:
    """Stamp every task's start (before its body runs), its message's time of arrival in the
    queue, and its end (after it returned)."""
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "fetch_message_attributes": [SENT_TIMESTAMP],
    }
    signals.task_prerun.connect(_on_prerun, weak=False)
    signals.task_postrun.connect(_on_postrun, weak=False)


@dataclass
class Stamps:
    """The stamps read so far: task id -> unix time, for starts and for ends."""

    starts: dict[str, float] = field(default_factory=dict)
    ends: dict[str, float] = field(default_factory=dict)
    queued: dict[str, float] = field(default_factory=dict)
    """When SQS accepted each task's message (its SentTimestamp)."""


def read_stamps(path: Path) -> Stamps:
    """Parse the stamps file (missing file: no stamps yet)."""
    stamps = Stamps()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return stamps
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue  # a line still being written
        task_id, kind, at = parts
        kinds = {"start": stamps.starts, "end": stamps.ends, "queued": stamps.queued}
        kinds[kind][task_id] = float(at)
    return stamps
