"""A queue's messages by state, from SQS's approximate counts (the CLI and the status page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# QueueDepth's fields and the SQS attributes that count them.
COUNTS = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}


@dataclass(frozen=True)
class QueueDepth:
    """SQS's approximate counts of one queue's messages."""

    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        """Every message still in the queue, whatever its state."""
        return self.visible + self.in_flight + self.delayed


def read_depth(sqs: Any, url: str) -> QueueDepth:
    """Visible, in flight and delayed messages, from one GetQueueAttributes."""
    values = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(COUNTS.values()))
    attributes = values["Attributes"]
    return QueueDepth(**{field: int(attributes.get(name, 0)) for field, name in COUNTS.items()})
