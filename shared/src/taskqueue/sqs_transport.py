"""kombu's SQS transport, releasing restored messages at once.

When a worker stops (or a pool process dies) with messages it received but did not finish,
kombu 5.7 hands them back with ChangeMessageVisibility(VisibilityTimeout=wait_time_seconds),
so another worker waits about 20 s for them. This channel ends the task's idempotency lease
(it will not finish here) and makes the message visible immediately. Selected with the
`broker_transport` setting.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import SQS

from taskqueue.celery_app import celery
from taskqueue.idempotency import release

logger = logging.getLogger(__name__)


class Channel(SQS.Channel):  # type: ignore[misc]
    """An SQS channel whose restored messages are visible again at once."""

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        if not message.get("redelivered"):
            super()._put(queue, message, **kwargs)
            return
        task_id = message.get("headers", {}).get("id")
        if task_id:
            try:
                release(celery, task_id)
            except Exception:  # the lease also ends by itself, before the visibility timeout
                logger.warning("could not end the lease of task %s", task_id, exc_info=True)
        self.sqs(queue=self.canonical_queue_name(queue)).change_message_visibility(
            QueueUrl=self._new_queue(queue),
            ReceiptHandle=message["properties"]["delivery_tag"],
            VisibilityTimeout=0,
        )


class Transport(SQS.Transport):  # type: ignore[misc]
    """The SQS transport with `Channel` above."""

    Channel = Channel
