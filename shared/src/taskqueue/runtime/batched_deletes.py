"""A worker's acknowledgements, deleted in batches: one DeleteMessageBatch per queue and window.

kombu 5.7 acknowledges each finished task with its own DeleteMessage, a blocking round trip
in the worker's main process (its event loop waits for it) and one request per task. Here an
acknowledgement frees its pool slot at once; its delete is sent at once too when no other
task of the worker is unfinished (a worker that finishes its last task leaves nothing behind:
the queue is empty when its state says so), else it waits, at most ACK_BATCH_WINDOW_SECONDS
or until SQS's 10 per batch are there, for the others of its queue: tasks that finish while
others run (a busy worker, a drain) share one DeleteMessageBatch. A batch of one is a
DeleteMessage, the request kombu makes. IAM: `sqs:DeleteMessage` authorizes the batch too
("Amazon SQS batch actions", SQS Developer Guide), and SQS bills a batch as one request.

What a late delete risks: a worker that dies inside the window never deletes its pending
messages; SQS delivers them again after the visibility timeout, and the idempotency claim
drops each (its task succeeded: `Duplicate`, taskqueue.runtime.run_once), which acknowledges
it again. A stopping worker deletes what is pending when its channel closes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

# How long an acknowledgement waits for others to share its request while other tasks run:
# short beside the base visibility (60 s; a message finished but not yet deleted only counts
# as in flight a moment longer).
ACK_BATCH_WINDOW_SECONDS = 0.5
# SQS's most entries in one DeleteMessageBatch.
SQS_MAX_BATCH = 10


# A queue: its name (kombu's channel keeps a client per queue name) and its URL.
Queue = tuple[str | None, str]


class DeleteBatches:
    """Receipt handles waiting to be deleted, by queue, each queue's sent as a batch."""

    def __init__(self, sqs_of: Callable[[str | None], Any]) -> None:
        # The client of a queue name (kombu's `Channel.sqs`).
        self._sqs_of = sqs_of
        self._pending: dict[Queue, list[str]] = {}

    def add(self, queue: Queue, receipt_handle: str) -> bool:
        """Queue a delete; True when the queue's batch is full (flush it now)."""
        handles = self._pending.setdefault(queue, [])
        handles.append(receipt_handle)
        return len(handles) >= SQS_MAX_BATCH

    @property
    def waiting(self) -> int:
        """Deletes not yet sent."""
        return sum(len(handles) for handles in self._pending.values())

    def flush(self) -> None:
        """Send every waiting delete, a batch of at most 10 per request; a failure is
        logged (those messages come back after the visibility timeout, and are dropped)."""
        pending, self._pending = self._pending, {}
        for queue, handles in pending.items():
            for start in range(0, len(handles), SQS_MAX_BATCH):
                self._delete(queue, handles[start : start + SQS_MAX_BATCH])

    def _delete(self, queue: Queue, handles: list[str]) -> None:
        name, queue_url = queue
        entries = [
            {"Id": str(index), "ReceiptHandle": handle} for index, handle in enumerate(handles)
        ]
        try:
            if len(handles) == 1:
                self._sqs_of(name).delete_message(QueueUrl=queue_url, ReceiptHandle=handles[0])
                return
            answer = self._sqs_of(name).delete_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception:
            logger.warning(
                "could not delete %d finished messages from %s: back after the visibility"
                " timeout, then dropped",
                len(entries),
                queue_url,
                exc_info=True,
            )
            return
        for failed in answer.get("Failed") or []:
            logger.warning(
                "could not delete a finished message from %s (%s: %s): back after the"
                " visibility timeout, then dropped",
                queue_url,
                failed.get("Code"),
                failed.get("Message"),
            )
