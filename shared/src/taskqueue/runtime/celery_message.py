"""Read a Celery task out of an SQS message body, as kombu's SQS transport wrote it.

kombu base64-encodes a JSON envelope `{"body", "headers", "properties", ...}`; Celery's
protocol 2 puts the task name and id in the headers and `[args, kwargs, embed]` in the body.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CeleryTask:
    """What an operator needs to recognise a queued task."""

    name: str
    task_id: str
    args: list[Any]
    kwargs: dict[str, Any]

    def arguments(self) -> str:
        """`1, 'x', duration=3`: the call's arguments as Python would write them."""
        words = [repr(arg) for arg in self.args]
        words += [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return ", ".join(words)


def decode(body: str) -> CeleryTask | None:
    """The task in `body`, or None when it is not a Celery message."""
    envelope = _json(body) or _json(_unbase64(body))
    if not isinstance(envelope, dict) or not isinstance(envelope.get("headers"), dict):
        return None
    headers = envelope["headers"]
    if "task" not in headers:
        return None
    args, kwargs = _call_arguments(envelope)
    return CeleryTask(
        name=str(headers["task"]), task_id=str(headers.get("id", "?")), args=args, kwargs=kwargs
    )


def _call_arguments(envelope: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    raw = envelope.get("body", "")
    if envelope.get("properties", {}).get("body_encoding") == "base64":
        raw = _unbase64(raw)
    call = _json(raw)
    if isinstance(call, list) and len(call) >= 2:
        return list(call[0]), dict(call[1])
    return [], {}


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _unbase64(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
