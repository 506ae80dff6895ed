"""The Celery signals that turn each task run into one metrics record
(taskqueue.runtime.task_metrics).

One record per delivery, never two: `task_postrun` fires once for every run a pool process
traces, whatever its end (SUCCESS, FAILURE, RETRY, or IGNORED for the idempotency guard's
drops and a cancel, which the guard marks on the request). `task_failure` also fires in the
pool process for a body's exception, so it counts only the failures the worker's main process
reports for a run that no pool process traced to its end: a hard time limit's kill.
`task_revoked` (main process) counts a task revoked before it ran (an expired `expires`).

Not counted: a delivery rejected because another run holds its lease (REJECTED; it comes
back and is counted then), and a run whose pool process died (the message comes back).
"""

from __future__ import annotations

import time
from typing import Any

from celery import signals, states
from celery.exceptions import Reject
from taskqueue.runtime.task_metrics import (
    SENT_AT_HEADER,
    Outcome,
    TaskRun,
    emit,
    marked,
    queue_wait_ms,
)

_STATE_OUTCOMES = {
    states.SUCCESS: Outcome.SUCCEEDED,
    states.FAILURE: Outcome.FAILED,
    states.RETRY: Outcome.RETRIED,
}


class RunMetrics:
    """The receivers, for one namespace; `_started` is per process (pool processes fork)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        # task id -> (perf_counter at the start, queue wait in ms)
        self._started: dict[str, tuple[float, float | None]] = {}

    def connect(self) -> RunMetrics:
        """Receive the task signals in this process and the pool processes it forks."""
        signals.task_prerun.connect(self.on_prerun, weak=False)
        signals.task_postrun.connect(self.on_postrun, weak=False)
        signals.task_failure.connect(self.on_failure, weak=False)
        signals.task_revoked.connect(self.on_revoked, weak=False)
        return self

    def on_prerun(self, task_id: str, task: Any, **_: Any) -> None:
        request = task.request
        wait = queue_wait_ms(getattr(request, SENT_AT_HEADER, None), request.eta, time.time())
        self._started[task_id] = (time.perf_counter(), wait)

    def on_postrun(self, task_id: str, task: Any, state: str | None = None, **_: Any) -> None:
        started = self._started.pop(task_id, None)
        mark = marked(task.request)
        if mark is not None:
            outcome, body_ran = mark
        elif state in _STATE_OUTCOMES:
            outcome, body_ran = _STATE_OUTCOMES[state], True
        else:  # REJECTED, or an Ignore nobody marked: no outcome of this delivery
            return
        run_time = wait = None
        if body_ran and started is not None:
            run_time = (time.perf_counter() - started[0]) * 1000
            wait = started[1]
        emit(TaskRun(task.name, task_id, outcome, run_time, wait), self.namespace)

    def on_failure(
        self, sender: Any = None, task_id: str | None = None, exception: Any = None, **_: Any
    ) -> None:
        # A run traced here is counted by on_postrun; a Reject is a delivery sent back, not
        # a failure of the task.
        if task_id is None or task_id in self._started or isinstance(exception, Reject):
            return
        emit(TaskRun(sender.name, task_id, Outcome.FAILED), self.namespace)

    def on_revoked(self, sender: Any = None, request: Any = None, **_: Any) -> None:
        task_id = getattr(request, "id", None)
        if sender is not None and task_id:
            emit(TaskRun(sender.name, task_id, Outcome.REVOKED), self.namespace)
