"""The SQS task queue of Celery and its dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class TaskQueue(Construct):
    """Standard queue with SQS-managed SSE, TLS-only access and a redrive to a DLQ.

    The visibility timeout comes from the config (task time limit + margin), the same value
    the containers get as `QUEUE_VISIBILITY_TIMEOUT`.
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
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=dlq_retention,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
        )
