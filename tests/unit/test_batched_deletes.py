"""Finished messages are deleted in batches of at most 10 per queue, and a delete that fails
is logged, never raised (taskqueue.runtime.batched_deletes), against in-process moto."""

from __future__ import annotations

from typing import Any

import pytest
from taskqueue.runtime.batched_deletes import SQS_MAX_BATCH, DeleteBatches

from tests.unit.conftest import QUEUE_URL


class CountingClient:
    """The SQS client, with its DeleteMessageBatch calls counted."""

    def __init__(self, sqs: Any) -> None:
        self.sqs, self.batches = sqs, []  # each request's entries ("one": DeleteMessage)

    def delete_message_batch(self, **kwargs: Any) -> Any:
        self.batches.append(len(kwargs["Entries"]))
        return self.sqs.delete_message_batch(**kwargs)

    def delete_message(self, **kwargs: Any) -> Any:
        self.batches.append("one")
        return self.sqs.delete_message(**kwargs)


def received(sqs: Any, count: int) -> list[str]:
    """`count` messages sent to the task queue and received: their receipt handles."""
    for index in range(count):
        sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=str(index))
    handles: list[str] = []
    while len(handles) < count:
        answer = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)
        handles += [message["ReceiptHandle"] for message in answer.get("Messages", [])]
    return handles


def depth(sqs: Any) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=QUEUE_URL, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def test_twelve_acknowledgements_are_two_requests_and_every_message_is_gone(sqs: Any) -> None:
    client = CountingClient(sqs)
    batches = DeleteBatches(lambda name: client)
    full = [batches.add(("taskqueue-tasks", QUEUE_URL), handle) for handle in received(sqs, 12)]

    assert full.index(True) == SQS_MAX_BATCH - 1  # the tenth fills a batch
    assert batches.waiting == 12
    batches.flush()

    assert client.batches == [10, 2]
    assert batches.waiting == 0
    assert depth(sqs) == 0


def test_a_batch_of_one_is_a_delete_message_as_kombus_own(sqs: Any) -> None:
    client = CountingClient(sqs)
    batches = DeleteBatches(lambda name: client)
    batches.add((None, QUEUE_URL), received(sqs, 1)[0])
    batches.flush()

    assert client.batches == ["one"]
    assert depth(sqs) == 0


def test_a_delete_that_fails_is_logged_and_the_rest_of_its_batch_is_deleted(
    sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    batches = DeleteBatches(lambda name: sqs)
    good = received(sqs, 1)[0]
    batches.add((None, QUEUE_URL), "not-a-receipt-handle")  # beside a good one: a batch
    batches.add((None, QUEUE_URL), good)
    batches.flush()

    assert depth(sqs) == 0
    assert "could not delete a finished message" in caplog.text


def test_an_endpoint_error_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Down:
        def delete_message_batch(self, **kwargs: Any) -> Any:
            raise ConnectionError("endpoint down")

    batches = DeleteBatches(lambda name: Down())
    batches.add((None, QUEUE_URL), "handle")
    batches.flush()

    assert "could not delete 1 finished messages" in caplog.text
    assert batches.waiting == 0
