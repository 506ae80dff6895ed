"""Task metrics: the worker's log lines parse as CloudWatch EMF, one record per delivery."""

from __future__ import annotations

import io
import json
import logging
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from celery.exceptions import Reject
from taskqueue.runtime.logs import json_formatter
from taskqueue.runtime.task_metrics import (
    SENT_AT_HEADER,
    Outcome,
    TaskRun,
    emit,
    mark_dropped,
    mark_stopped,
    queue_wait_ms,
    stamp_sent_at,
)
from worker_service.run_metrics import RunMetrics

NAMESPACE = "TaskQueue/unit"
# The units CloudWatch accepts that these metrics use, and its limits on one EMF directive.
UNITS = {"Count", "Milliseconds"}
MAX_DIMENSIONS_PER_SET = 30
MAX_METRICS_PER_DIRECTIVE = 100


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the worker's stdout handler writes, formatted as taskqueue.runtime.logs formats it, with
    the root logger at WARNING (LOG_LEVEL=WARNING)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def emf_records(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line that holds an `_aws` block, parsed and checked against the EMF spec."""
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    emf = [record for record in records if "_aws" in record]
    for record in emf:
        check_emf(record)
    return emf


def check_emf(record: dict[str, Any]) -> None:
    """The EMF specification's rules for the root node and its metric directives."""
    metadata = record["_aws"]
    assert isinstance(metadata["Timestamp"], int)
    assert abs(metadata["Timestamp"] / 1000 - time.time()) < 60
    for directive in metadata["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str) and directive["Namespace"]
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= MAX_DIMENSIONS_PER_SET
            assert all(isinstance(record[name], str) for name in dimension_set)
        assert len(directive["Metrics"]) <= MAX_METRICS_PER_DIRECTIVE
        for metric in directive["Metrics"]:
            assert metric["Unit"] in UNITS
            value = record[metric["Name"]]
            assert isinstance(value, int | float) and not isinstance(value, bool)
            assert math.isfinite(value)


def values(record: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """Metric name -> (value, unit) of one EMF record."""
    [directive] = record["_aws"]["CloudWatchMetrics"]
    return {
        metric["Name"]: (record[metric["Name"]], metric["Unit"]) for metric in directive["Metrics"]
    }


@pytest.mark.parametrize("outcome", list(Outcome))
def test_a_run_is_one_emf_line_named_by_task_with_every_count(
    lines: io.StringIO, outcome: Outcome
) -> None:
    emit(TaskRun("export", "t1", outcome, run_time_ms=12.5, queue_wait_ms=40.0), NAMESPACE)

    [record] = emf_records(lines)
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [["TaskName"]]
    assert record["TaskName"] == "export"
    assert values(record) == {
        "Succeeded": (int(outcome == "Succeeded"), "Count"),
        "Failed": (int(outcome == "Failed"), "Count"),
        "Retried": (int(outcome == "Retried"), "Count"),
        "Revoked": (int(outcome == "Revoked"), "Count"),
        "Duplicate": (int(outcome == "Duplicate"), "Count"),
        "RunTime": (12.5, "Milliseconds"),
        "QueueWait": (40.0, "Milliseconds"),
    }
    # Still a log line of the project's format: logger, level, message, the task's id.
    assert record["level"] == "INFO" and record["logger"] == "taskqueue.runtime.task_metrics"
    assert record["task_id"] == "t1" and record["message"].startswith("task export ")


def test_a_run_without_timings_names_only_its_counts(lines: io.StringIO) -> None:
    emit(TaskRun("export", "t1", Outcome.DUPLICATE), NAMESPACE)

    [record] = emf_records(lines)
    assert set(values(record)) == {o.value for o in Outcome}
    assert "RunTime" not in record and "QueueWait" not in record


def test_queue_wait_counts_from_the_later_of_publish_and_eta() -> None:
    sent = 1_000_000.0
    eta = datetime.fromtimestamp(sent + 30, UTC).isoformat()

    assert queue_wait_ms(sent, None, sent + 2.5) == pytest.approx(2500)
    assert queue_wait_ms(sent, eta, sent + 31) == pytest.approx(1000)  # a delayed task
    assert queue_wait_ms(None, eta, sent + 31) == pytest.approx(1000)  # a schedule's eta
    parsed = datetime.fromisoformat(eta)
    assert queue_wait_ms(sent, parsed, sent + 31) == pytest.approx(1000)
    assert queue_wait_ms(sent, "not a time", sent + 1) == pytest.approx(1000)
    assert queue_wait_ms(None, None, sent) is None  # a raw message: no queue wait
    assert queue_wait_ms(sent + 1, None, sent) == 0  # another host's clock ahead


def test_publish_stamps_the_send_time_in_the_headers() -> None:
    headers: dict[str, Any] = {"id": "t1", SENT_AT_HEADER: 1.0}  # a retry's copy of the old

    stamp_sent_at(headers=headers, body=(), exchange="", routing_key="q")

    assert time.time() - headers[SENT_AT_HEADER] < 5


def delivery(name: str = "export", **request: Any) -> Any:
    """What the signals pass of one delivery: the task, its request."""
    return SimpleNamespace(name=name, request=SimpleNamespace(eta=None, **request))


@pytest.fixture
def hooks() -> RunMetrics:
    """The receivers, called directly as Celery's signals would (not connected)."""
    return RunMetrics(NAMESPACE)


@pytest.mark.parametrize(
    ("state", "outcome"),
    [("SUCCESS", "Succeeded"), ("FAILURE", "Failed"), ("RETRY", "Retried")],
)
def test_a_traced_run_is_counted_once_with_its_times(
    lines: io.StringIO, hooks: RunMetrics, state: str, outcome: str
) -> None:
    task = delivery(**{SENT_AT_HEADER: time.time() - 2})

    hooks.on_prerun(task_id="t1", task=task)
    if state == "FAILURE":  # the pool process's task_failure comes before task_postrun
        hooks.on_failure(sender=task, task_id="t1", exception=RuntimeError("boom"))
    hooks.on_postrun(task_id="t1", task=task, state=state)

    [record] = emf_records(lines)
    assert record["outcome"] == outcome and record[outcome] == 1
    assert 0 <= record["RunTime"] < 1000
    assert 2000 <= record["QueueWait"] < 3000


@pytest.mark.parametrize(
    ("mark", "outcome", "body_ran"),
    [
        (mark_dropped, Outcome.DUPLICATE, False),  # delivered again after it succeeded
        (mark_dropped, Outcome.REVOKED, False),  # cancelled before it started
        (mark_stopped, Outcome.REVOKED, True),  # cancelled while it ran
    ],
)
def test_an_ignored_delivery_counts_as_the_guard_marked_it(
    lines: io.StringIO, hooks: RunMetrics, mark: Any, outcome: Outcome, body_ran: bool
) -> None:
    task = delivery(**{SENT_AT_HEADER: time.time()})

    hooks.on_prerun(task_id="t1", task=task)
    mark(task.request, outcome)
    hooks.on_postrun(task_id="t1", task=task, state="IGNORED")

    [record] = emf_records(lines)
    assert record["outcome"] == outcome.value and record[outcome.value] == 1
    assert ("RunTime" in record) is body_ran and ("QueueWait" in record) is body_ran


@pytest.mark.parametrize("state", ["REJECTED", "IGNORED"])
def test_a_rejected_or_unmarked_ignored_delivery_is_not_counted(
    lines: io.StringIO, hooks: RunMetrics, state: str
) -> None:
    task = delivery()

    hooks.on_prerun(task_id="t1", task=task)
    hooks.on_postrun(task_id="t1", task=task, state=state)

    assert emf_records(lines) == []


def test_a_failure_the_main_process_reports_is_counted_without_times(
    lines: io.StringIO, hooks: RunMetrics
) -> None:
    # A hard time limit: the pool process was killed, only the main process reports it.
    hooks.on_failure(sender=delivery(), task_id="t1", exception=TimeoutError())
    # A delivery sent back (another run holds the lease) is no failure of the task.
    hooks.on_failure(sender=delivery(), task_id="t2", exception=Reject("held", requeue=False))

    [record] = emf_records(lines)
    assert (record["task_id"], record["outcome"]) == ("t1", "Failed")
    assert "RunTime" not in record


def test_a_task_revoked_before_it_ran_is_counted(lines: io.StringIO, hooks: RunMetrics) -> None:
    hooks.on_revoked(sender=delivery(), request=SimpleNamespace(id="t1"), expired=True)

    [record] = emf_records(lines)
    assert (record["task_id"], record["outcome"], record["Revoked"]) == ("t1", "Revoked", 1)
