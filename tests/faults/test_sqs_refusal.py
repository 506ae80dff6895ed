"""A 4xx from SQS is not an outage: the worker stops instead of retrying, and ECS replaces it
(tests/faults/README.md, "A 4xx from SQS stops the worker")."""

from __future__ import annotations

import pytest

from harness.processes import wait_until
from harness.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_a_deleted_queue_stops_the_worker_with_an_unrecoverable_error(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    doomed = sqs.create_queue(QueueName="doomed")["QueueUrl"]
    worker = stack.start_worker(TASK_QUEUE_NAME="doomed", TASK_QUEUE_URL=doomed)

    sqs.delete_queue(QueueUrl=doomed)  # its long poll now gets a 400 (NonExistentQueue)

    wait_until(lambda: worker.popen.poll() is not None, 60, "the worker to stop")
    assert worker.popen.returncode != 0  # ECS sees the container fail and replaces the task
    assert "Unrecoverable error" in worker.log()
