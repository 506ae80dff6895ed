"""A running task's own reports (`self.update_state`), at most one write per interval.

A task that reports progress on every step wrote DynamoDB each time: a `long_task` of 180 s
made 179 writes, one a second, while the status page reads every 3 s. Here a report is
written at once when the task's last write is at least PROGRESS_WRITE_INTERVAL old; a report
sooner is held, and a newer one replaces it, until the interval since that write ends, when a
timer writes the newest held one. So a task writes at most once an interval however often it
reports, and its newest report is stored at most one interval late even if it never reports
again. A task's end drops what is held (`end`): its final state follows at once and supersedes
it, and a held report written after the final state would hide it. Only the states a task
reports while it runs are held (PROGRESS, a task's own); Celery's states are written at once.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from celery import states

from taskqueue.stores.results import DEAD_LETTERED, SCHEDULED

logger = logging.getLogger(__name__)

Write = Callable[[], None]


class Timer(Protocol):
    """What a started timer offers: it can be cancelled."""

    def cancel(self) -> None: ...


def start_timer(delay: float, call: Callable[[], None]) -> Timer:
    """`call` on a daemon thread after `delay` seconds (a pool process exits without it)."""
    timer = threading.Timer(delay, call)
    timer.daemon = True
    timer.start()
    return timer


# The states Celery and this project write themselves: never held.
WRITTEN_AT_ONCE = frozenset(states.ALL_STATES | {SCHEDULED, DEAD_LETTERED})


def is_held_back(state: str | None) -> bool:
    """Whether a report of `state` may wait: the states a task reports while it runs."""
    return state is not None and state not in WRITTEN_AT_ONCE


@dataclass
class _Task:
    """One task's last write and the report held since."""

    written_at: float
    held: Write | None = None
    timer: Timer | None = None


class ProgressWrites:
    """Each running task's reports, written at most once every `interval` seconds."""

    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        timer: Callable[[float, Callable[[], None]], Timer] = start_timer,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._start_timer = timer
        # Held while a write is made: a task's end waits for a timer's write in flight, so
        # nothing held lands after the final state.
        self._lock = threading.Lock()
        self._tasks: dict[str, _Task] = {}

    def report(self, task_id: str, write: Write) -> None:
        """Write now if the task's last write is an interval old (or it has none), else hold
        `write` (replacing what was held) until the interval ends."""
        with self._lock:
            now = self._clock()
            task = self._tasks.get(task_id)
            if task is None or now - task.written_at >= self.interval:
                if task is not None and task.timer is not None:
                    task.timer.cancel()
                write()
                self._tasks[task_id] = _Task(written_at=now)
                return
            task.held = write
            if task.timer is None:
                flush = functools.partial(self._flush, task_id)
                task.timer = self._start_timer(task.written_at + self.interval - now, flush)

    def _flush(self, task_id: str) -> None:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.held is None:
                return
            held, task.held, task.timer = task.held, None, None
            task.written_at = self._clock()
            try:
                held()
            except Exception:  # the next report, or the final state, is written all the same
                logger.warning("could not store the progress of task %s", task_id, exc_info=True)

    def end(self, task_id: str) -> None:
        """The task's body ended: drop what it holds (its final state follows), after any
        write in flight."""
        with self._lock:
            task = self._tasks.pop(task_id, None)
            if task is not None and task.timer is not None:
                task.timer.cancel()


_writes: ProgressWrites | None = None


def of_process(interval: float) -> ProgressWrites:
    """This process's reports' writes (a pool process's; made at its first report)."""
    global _writes
    if _writes is None or _writes.interval != interval:
        _writes = ProgressWrites(interval)
    return _writes
