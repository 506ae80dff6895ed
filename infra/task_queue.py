"""The SQS task queue of Celery and its dead-letter queue."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from taskqueue.runtime.large_messages import SQS_MAX_MESSAGE_BYTES


def private_queue(scope: Construct, construct_id: str, **props: Any) -> sqs.Queue:
    """A standard queue with SQS-managed SSE whose policy refuses any request without TLS,
    taking messages up to SQS's 1 MiB (a queue made before August 2025 kept 256 KiB: set, not
    left to the default); a larger task message goes through the payload bucket."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        max_message_size_bytes=SQS_MAX_MESSAGE_BYTES,
        **props,
    )


class TaskQueue(Construct):
    """Standard queue with SQS-managed SSE, TLS-only access and a redrive to a DLQ.

    The visibility timeout is the config's short base visibility (`queueVisibilityTimeout`),
    the same value the containers get as `QUEUE_VISIBILITY_TIMEOUT`; the worker's heartbeat
    extends it while a task runs (taskqueue.runtime.visibility_extension).
    """

    queue: sqs.Queue
    dead_letter_queue: sqs.Queue

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        visibility_timeout: Duration,
        max_receive_count: int,
        dlq_retention: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = private_queue(
            self, "DeadLetterQueue", retention_period=dlq_retention
        )
        self.queue = private_queue(
            self,
            "Queue",
            visibility_timeout=visibility_timeout,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
        )
