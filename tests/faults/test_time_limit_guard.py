"""A task that runs longer than allowed is stopped at its own limit, and never overlaps.

Its limit (long_task's: soft 7 s, hard 8 s here) is longer than the queue's base
visibility (6 s): the visibility extension keeps the message from a second worker while
the task runs (taskqueue.runtime.visibility_extension), and the soft limit stops it. Each delivery
runs alone, one after the other, until the message goes to the dead-letter queue, and the last
records DEAD_LETTERED for a time limit (taskqueue.runtime.dead_letters).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from datetime import datetime

import pytest

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.faults.conftest import dlq_messages, enqueue

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(200)]


def rewrite_duration(stack: LocalStack, duration: int) -> None:
    """Replace the queued message with one asking for `duration` (past the web's checks)."""
    sqs = stack.client("sqs")
    [message] = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=1)["Messages"]
    envelope = json.loads(base64.b64decode(message["Body"]))
    args, kwargs, embed = json.loads(base64.b64decode(envelope["body"]))
    kwargs["duration"] = duration
    envelope["body"] = base64.b64encode(json.dumps([args, kwargs, embed]).encode()).decode()
    sqs.send_message(
        QueueUrl=stack.queue_url,
        MessageBody=base64.b64encode(json.dumps(envelope).encode()).decode(),
    )
    sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])


def run_spans(log: str, task_id: str) -> list[tuple[datetime, datetime]]:
    """(first, last) time of each run of the task, from its "Working... i/n" lines."""
    times: list[list[datetime]] = []
    for line in log.splitlines():
        if task_id not in line or "Working..." not in line:
            continue
        record = json.loads(line)
        stamp = datetime.strptime(record["time"], "%Y-%m-%d %H:%M:%S,%f")
        if re.fullmatch(r"Working\.\.\. 1/\d+", record["message"]):
            times.append([stamp])
        elif times:
            times[-1].append(stamp)
    return [(run[0], run[-1]) for run in times]


def test_an_overlong_task_is_stopped_before_a_second_worker_could_get_it(
    stack: LocalStack,
) -> None:
    stack.start_web()
    task_id = enqueue(stack, "long_task", duration=1)
    rewrite_duration(stack, 30)  # long_task's soft limit 7 s, hard 8 s; base visibility 6 s
    first = stack.start_worker(WORKER_CONCURRENCY="1")
    second = stack.start_worker(
        "second-worker",
        WORKER_CONCURRENCY="1",
        WORKER_HEARTBEAT_FILE=str(stack.work_dir / "second-heartbeat"),
    )

    wait_until(lambda: dlq_messages(stack) == 1, 120, "the overlong task in the DLQ")

    status = stack.api().status(task_id)
    assert (status["state"], status["reason"]) == ("DEAD_LETTERED", "time limit")
    spans = sorted(run_spans(first.log(), task_id) + run_spans(second.log(), task_id))
    assert len(spans) == 3  # MAX_RECEIVE_COUNT deliveries, then the DLQ
    assert all(end < next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
    assert all((end - start).total_seconds() < 8 for start, end in spans)
    # Each run outlived the base visibility: only the heartbeat kept it from the other worker.
    visibility = stack.settings.queue_visibility_timeout
    assert all((end - start).total_seconds() > visibility - 1 for start, end in spans)
    assert "SoftTimeLimitExceeded" in first.log() + second.log()
