"""Poison tasks end in the dead-letter queue; a task delivered twice has its effect once."""

from __future__ import annotations

import pytest

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.faults.conftest import dlq_messages, enqueue, state, wait_for_states

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.mark.parametrize("poison", ["fail", "crash"])
def test_a_poison_task_goes_to_the_dlq_without_blocking_others(
    stack: LocalStack, poison: str
) -> None:
    stack.start_web()
    worker = stack.start_worker(WORKER_CONCURRENCY="2")
    poison_id = enqueue(stack, poison)
    healthy_ids = [enqueue(stack, "long_task", duration=1) for _ in range(4)]

    wait_for_states(stack, healthy_ids, {"SUCCESS"}, timeout=30)  # not blocked meanwhile
    # Three receives (MAX_RECEIVE_COUNT), each after a visibility timeout, then the DLQ (a
    # crash: five, each lost worker's receive given back once, taskqueue.dead_letters).
    wait_until(lambda: dlq_messages(stack) == 1, 60, "the poison task in the DLQ")
    # Nothing left but, for a few seconds, the watch on its last delivery (its lease's
    # length, taskqueue.dead_letters), which the worker then deletes.
    wait_until(lambda: stack.queue_depth() == 0, 15, "the queue empty")

    assert worker.popen.poll() is None
    assert state(stack, poison_id) == "DEAD_LETTERED"
    if poison == "fail":
        assert worker.log().count(f"Task fail[{poison_id}] raised unexpected") == 3


def test_a_task_delivered_twice_runs_its_body_once(stack: LocalStack) -> None:
    stack.start_web()
    task_id = enqueue(stack, "long_task", duration=1)  # no worker yet: it waits in the queue
    sqs = stack.client("sqs")
    [message] = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=1)["Messages"]
    # SQS delivers at least once: the same message, body and attributes, a second time.
    sqs.send_message(
        QueueUrl=stack.queue_url,
        MessageBody=message["Body"],
        MessageAttributes=message.get("MessageAttributes", {}),
    )
    sqs.change_message_visibility(
        QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )

    worker = stack.start_worker(WORKER_CONCURRENCY="2")

    wait_for_states(stack, [task_id], {"SUCCESS"}, timeout=30)
    wait_until(lambda: stack.queue_depth() == 0, 30, "both deliveries handled")
    assert worker.log().count("Completed work on 1") == 1
    assert "was delivered again" in worker.log() or "claimed by another run" in worker.log()
    assert state(stack, task_id) == "SUCCESS"
