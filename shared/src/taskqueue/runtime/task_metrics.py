"""Per-task CloudWatch metrics, written as one JSON log line per finished run (EMF).

CloudWatch Logs reads a log event whose JSON holds an `_aws` block in the Embedded Metric
Format and publishes the metrics it names: the worker's own log lines, shipped by the
awslogs driver, carry them, so no PutMetricData call, no IAM and no agent are needed. The
record goes through the project's JSON logging (taskqueue.runtime.logs), so a metrics line is also a
log line, with the task's id; AWS's `aws-embedded-metrics` library would print a second line
format of its own (shared/README.md#task-metrics says why it is not used).

One dimension set, `TaskName`: CloudWatch bills each combination of metric name and
dimension values as a metric of its own, so every extra set (a per-worker `ServiceName`,
a per-outcome dimension) would multiply the bill; the log line keeps the task id for
anything finer (CloudWatch Logs Insights).

The names are written here once; the stack's dashboard and alarm read them (infra.monitoring).
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

DIMENSION = "TaskName"
RUN_TIME = "RunTime"
"""Milliseconds from the run's start (task_prerun) to its end (task_postrun): the claim, the
body and the lease's release."""
QUEUE_WAIT = "QueueWait"
"""Milliseconds from the message's publish (or its `eta`, whichever is later) to the run's
start."""
COUNT = "Count"
MILLISECONDS = "Milliseconds"
SENT_AT_HEADER = "sent_at"
"""Message header: epoch seconds at publish (`stamp_sent_at`)."""
EMF_FIELD = "emf"
"""The log record's field that carries the `_aws` block (taskqueue.runtime.logs renames it)."""
_OUTCOME_ATTRIBUTE = "taskqueue_outcome"


class Outcome(StrEnum):
    """How one delivery of a task ended; each is a Count metric of that name."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    RETRIED = "Retried"
    REVOKED = "Revoked"
    DUPLICATE = "Duplicate"


# Built once: an Enum's members are slow to iterate, and this runs once per task.
_COUNT_NAMES = tuple(outcome.value for outcome in Outcome)
_COUNT_METRICS = tuple({"Name": name, "Unit": COUNT} for name in _COUNT_NAMES)

logger = logging.getLogger(__name__)
# Metrics do not depend on LOG_LEVEL: this logger's records reach the root's handler even when
# the root logger is set to WARNING.
logger.setLevel(logging.INFO)


@dataclass(frozen=True)
class TaskRun:
    """One delivery of a task as the metrics see it: run time and queue wait only when its
    body ran (a dropped duplicate has neither)."""

    task_name: str
    task_id: str
    outcome: Outcome
    run_time_ms: float | None = None
    queue_wait_ms: float | None = None


def emf_fields(run: TaskRun, namespace: str, timestamp_ms: int) -> dict[str, Any]:
    """The fields that make a JSON log record an EMF record of `run` (`EMF_FIELD` is written
    as `_aws`).

    Every outcome's count is written (1 for this run's, 0 for the others), so each metric of
    a task exists from its first run on and Failed / (Succeeded + Failed) has no gaps.
    """
    metrics = list(_COUNT_METRICS)
    values: dict[str, float] = dict.fromkeys(_COUNT_NAMES, 0)
    values[run.outcome.value] = 1
    for name, value in ((RUN_TIME, run.run_time_ms), (QUEUE_WAIT, run.queue_wait_ms)):
        if value is not None:
            metrics.append({"Name": name, "Unit": MILLISECONDS})
            values[name] = round(value, 3)
    return {
        EMF_FIELD: {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {"Namespace": namespace, "Dimensions": [[DIMENSION]], "Metrics": metrics}
            ],
        },
        DIMENSION: run.task_name,
        **values,
        "task_id": run.task_id,
        "outcome": run.outcome.value,
    }


def emit(run: TaskRun, namespace: str) -> None:
    """Log `run` as one EMF record."""
    took = "" if run.run_time_ms is None else f" in {run.run_time_ms:.1f} ms"
    logger.info(
        "task %s %s%s",
        run.task_name,
        run.outcome.value.lower(),
        took,
        extra=emf_fields(run, namespace, int(time.time() * 1000)),
    )


def queue_wait_ms(sent_at: object, eta: object, started_at: float) -> float | None:
    """Milliseconds from max(`sent_at`, `eta`) to `started_at` (epoch seconds); None when the
    message carries neither (a raw message, e.g. an EventBridge schedule's)."""
    since = [moment for moment in (_epoch(sent_at), _epoch(eta)) if moment is not None]
    if not since:
        return None
    return max(0.0, (started_at - max(since)) * 1000)


def _epoch(value: object) -> float | None:
    """Epoch seconds from a number, a datetime or an ISO 8601 time (Celery's `eta` header)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def stamp_sent_at(headers: MutableMapping[str, Any] | None = None, **_: Any) -> None:
    """`before_task_publish` receiver: the publish time travels in the message's headers (a
    retry's new message gets its own)."""
    if headers is not None:
        headers[SENT_AT_HEADER] = time.time()


def mark_dropped(request: Any, outcome: Outcome) -> None:
    """Record on the task's request that this delivery was dropped without running its body
    (it ends as `Ignore`, which Celery does not tell apart)."""
    setattr(request, _OUTCOME_ATTRIBUTE, (outcome, False))


def mark_stopped(request: Any, outcome: Outcome) -> None:
    """Record on the task's request that its body ran and was stopped (`Ignore` after it)."""
    setattr(request, _OUTCOME_ATTRIBUTE, (outcome, True))


def marked(request: Any) -> tuple[Outcome, bool] | None:
    """The outcome marked on the request, and whether the body ran; None if unmarked."""
    mark: tuple[Outcome, bool] | None = getattr(request, _OUTCOME_ATTRIBUTE, None)
    return mark
