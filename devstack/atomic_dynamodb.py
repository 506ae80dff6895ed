"""DynamoDB's per-item atomicity on moto's server: one DynamoDB request at a time.

DynamoDB applies each write to an item atomically, its condition included, so of two
conditional writes at once only one can pass a condition the other breaks; the run-once
claim (taskqueue.runtime.run_once) rests on that. moto 5.2.5 serves each request on a thread of
its own and evaluates an UpdateItem's condition and applies its update as separate steps,
so two claims at once may both pass. Every DynamoDB request the server handles runs under
one lock here (a read then never sees half an update either); other services are untouched.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_ONE_AT_A_TIME = threading.Lock()


def serialize_dynamodb_requests() -> None:
    """Make moto handle DynamoDB requests one at a time, in this process (idempotent)."""
    handle = DynamoHandler.call_action
    if getattr(handle, "serialized", False):
        return

    def call_action(self: DynamoHandler) -> Any:
        with _ONE_AT_A_TIME:
            return handle(self)

    call_action.serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
