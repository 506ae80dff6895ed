"""Start and end stamps of each task, written by the worker's pool processes.

The benchmark's worker apps connect these signal handlers; each appends one line
``<task_id> <start|end> <unix time>`` to the file named by ``BENCH_STAMPS_FILE``.
Short ``O_APPEND`` writes from several processes never interleave.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import signals

STAMPS_FILE_VAR = "BENCH_STAMPS_FILE"


def _append(kind: str, task_id: str | None) -> None:
    path = os.environ.get(STAMPS_FILE_VAR)
    if not path or not task_id:
        return
    line = f"{task_id} {kind} {time.time():.6f}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _on_prerun(task_id: str | None = None, **_: Any) -> None:
    _append("start", task_id)


def _on_postrun(task_id: str | None = None, **_: Any) -> None:
    _append("end", task_id)


def connect() -> None:
    """Stamp every task's start (before its body runs) and end (after it returned)."""
    signals.task_prerun.connect(_on_prerun, weak=False)
    signals.task_postrun.connect(_on_postrun, weak=False)


@dataclass
class Stamps:
    """The stamps read so far: task id -> unix time, for starts and for ends."""

    starts: dict[str, float] = field(default_factory=dict)
    ends: dict[str, float] = field(default_factory=dict)


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
        (stamps.starts if kind == "start" else stamps.ends)[task_id] = float(at)
    return stamps
