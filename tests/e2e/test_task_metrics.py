"""Per-task metrics through a real worker: its stdout carries one EMF record per run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from taskqueue.runtime.task_metrics import DIMENSION, Outcome

from harness.processes import Process, wait_until
from harness.stack import LocalStack, running
from tests.short_limits import SHORT_LIMITS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

NAMESPACE = "TaskQueue/e2e"


def emf_records(worker: Process) -> list[dict[str, Any]]:
    """The worker's log lines that carry an EMF `_aws` block, parsed."""
    records = []
    for line in worker.log().splitlines():
        if line.startswith("{") and '"_aws"' in line:
            records.append(json.loads(line))
    return records


def records_of(worker: Process, task_id: str) -> list[dict[str, Any]]:
    return [record for record in emf_records(worker) if record["task_id"] == task_id]


@pytest.fixture(scope="module")
def metrics_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto and the web; each test starts its worker once the queue holds what it needs.

    Short limits: a message the stopped worker's last long poll took (moto does not notice
    the poller went away) is back for the next worker within seconds.
    """
    work_dir = tmp_path_factory.mktemp("metrics")
    with running(work_dir, worker=False, **SHORT_LIMITS, METRICS_NAMESPACE=NAMESPACE) as local:
        yield local


def test_succeeded_failed_and_duplicate_runs_each_log_one_emf_record(
    metrics_stack: LocalStack,
) -> None:
    api, sqs = metrics_stack.api(), metrics_stack.client("sqs")
    ok_id = api.enqueue("noop", {})
    # A copy of the noop's message, as SQS might deliver it again after the task succeeded.
    [message] = sqs.receive_message(QueueUrl=metrics_stack.queue_url, MaxNumberOfMessages=1)[
        "Messages"
    ]
    sqs.change_message_visibility(
        QueueUrl=metrics_stack.queue_url,
        ReceiptHandle=message["ReceiptHandle"],
        VisibilityTimeout=0,
    )
    failed_id = api.enqueue("fail", {"message": "metrics"})
    worker = metrics_stack.start_worker()
    try:
        wait_until(lambda: api.state(ok_id) == "SUCCESS", 30, "the noop to succeed", worker)
        sqs.send_message(QueueUrl=metrics_stack.queue_url, MessageBody=message["Body"])
        wait_until(lambda: len(records_of(worker, ok_id)) == 2, 30, "the duplicate", worker)
        wait_until(lambda: bool(records_of(worker, failed_id)), 30, "the failure", worker)
    finally:
        worker.stop()

    succeeded, duplicate = records_of(worker, ok_id)
    failed = records_of(worker, failed_id)[0]  # its message may be back for more runs
    for record, name, outcome in (
        (succeeded, "noop", Outcome.SUCCEEDED),
        (duplicate, "noop", Outcome.DUPLICATE),
        (failed, "fail", Outcome.FAILED),
    ):
        [directive] = record["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE
        assert directive["Dimensions"] == [[DIMENSION]]
        assert record[DIMENSION] == name
        assert {o.value: record[o.value] for o in Outcome} == {
            o.value: int(o is outcome) for o in Outcome
        }
        units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
        assert all(units[o.value] == "Count" for o in Outcome)
        assert isinstance(record["_aws"]["Timestamp"], int)
    # A run that ran its body has a run time and, since the web stamped the message, a
    # queue wait: the noop waited while the test held its message and started the worker.
    for record in (succeeded, failed):
        [directive] = record["_aws"]["CloudWatchMetrics"]
        units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
        assert units["RunTime"] == units["QueueWait"] == "Milliseconds"
        assert record["RunTime"] > 0 and record["QueueWait"] >= 0
    assert succeeded["QueueWait"] > 100
    # A dropped duplicate ran nothing.
    assert "RunTime" not in duplicate and "QueueWait" not in duplicate


def test_the_worker_logs_no_record_with_task_metrics_off(
    metrics_stack: LocalStack, tmp_path: Path
) -> None:
    worker = metrics_stack.start_worker(
        "worker-no-metrics",
        TASK_METRICS="false",
        WORKER_HEARTBEAT_FILE=str(tmp_path / "heartbeat"),
    )
    task_id = metrics_stack.api().enqueue("noop", {})

    # The main process logs the success once the pool process reported it, after the run.
    wait_until(lambda: f"Task noop[{task_id}] succeeded" in worker.log(), 30, "the noop", worker)
    assert not emf_records(worker)
