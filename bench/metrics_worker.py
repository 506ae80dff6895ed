"""This project's worker app with task stamps (bench.project_worker), plus the CPU time its
pool processes spend writing each task's metrics record, for bench.metrics_cost.

Each pool process adds the thread CPU time of every `emit` (one EMF record built, formatted
and written) and keeps its running total in ``<BENCH_EMIT_TIMES_DIR>/<pid>``: ``<records>
<seconds>``. The total is written outside the timed span.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import worker_service.run_metrics as run_metrics

from bench.emit_times import EMIT_TIMES_DIR_VAR
from bench.project_worker import celery

_emit = run_metrics.emit
_spent = [0, 0.0]  # records, seconds


def _timed_emit(*args: Any, **kwargs: Any) -> None:
    started = time.thread_time()
    _emit(*args, **kwargs)
    _spent[1] += time.thread_time() - started
    _spent[0] += 1
    directory = os.environ.get(EMIT_TIMES_DIR_VAR)
    if directory:
        Path(directory, str(os.getpid())).write_text(f"{_spent[0]} {_spent[1]:.9f}\n")


run_metrics.emit = _timed_emit  # the receivers look `emit` up at each call

__all__ = ["celery"]
