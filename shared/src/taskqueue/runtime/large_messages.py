"""Task messages over SQS's size limit travel as a pointer to their body in the payload bucket.

As the SQS Extended Client libraries do (kombu has no such option: celery/kombu#279), the
sender stores the message's body (the task's arguments) as an object under `params/` and
sends the rest of the message (headers, properties) with a pointer in place of the body;
the receiver fetches the body before Celery sees the message. Both happen in the project's
transport (taskqueue.runtime.sqs_transport), so every send is covered: the web's, a
worker's retry, a delay's hop (which sends the pointer on, not the body again), a redrive
(which copies the message as it is). The headers stay in the message: the dead-letter
tools, the delay path and the run-once guard read them without fetching anything.
"""

from __future__ import annotations

import math
from typing import Any

from kombu.utils.json import dumps

from taskqueue.stores.payloads import PARAMS_PREFIX, PayloadBucket

# SQS takes a message of at most 1 MiB (since August 2025; 256 KiB before), body and message
# attributes together; the stack's queues allow that much (MaximumMessageSize).
SQS_MAX_MESSAGE_BYTES = 1024 * 1024
# Room for what SQS counts besides the body kombu builds (message attributes).
MESSAGE_MARGIN_BYTES = 16 * 1024
# A message whose body is larger goes through the payload bucket.
OFFLOAD_ABOVE_BYTES = SQS_MAX_MESSAGE_BYTES - MESSAGE_MARGIN_BYTES
# The message's key that points to its body's object: {"key": ..., "bytes": ...}.
POINTER = "taskqueue_body_object"


def too_large(message: dict[str, Any], *, base64: bool) -> bool:
    """Whether kombu's SQS body of `message` would be over the limit: its JSON, in base64
    when the transport sends that (kombu's `sqs_base64_encoding`, on by default)."""
    size = len(dumps(message).encode())
    if base64:
        size = 4 * math.ceil(size / 3)
    return size > OFFLOAD_ABOVE_BYTES


def offload(message: dict[str, Any], bucket: PayloadBucket) -> dict[str, Any]:
    """`message` with its body stored in `bucket` and a pointer to it in its place."""
    body = message["body"]
    data = body.encode() if isinstance(body, str) else bytes(body)
    task_id = str((message.get("headers") or {}).get("id") or "message")
    key = bucket.put(PARAMS_PREFIX, task_id, data)
    return {**message, "body": "", POINTER: {"key": key, "bytes": len(data)}}


def pointer_of(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The pointer of a received message's payload, or None when it carries its body."""
    pointer = payload.get(POINTER)
    return pointer if isinstance(pointer, dict) else None


def restored(payload: dict[str, Any], bucket: PayloadBucket) -> dict[str, Any]:
    """The received `payload` with its body fetched from `bucket` (PayloadMissing when the
    object is gone)."""
    pointer = pointer_of(payload)
    if pointer is None:
        return payload
    whole = {name: value for name, value in payload.items() if name != POINTER}
    whole["body"] = bucket.get(str(pointer["key"])).decode()
    return whole
