"""Cancel a queued task: no remote control on SQS, so the task's own record says REVOKED.

The message stays in SQS until a worker receives it; that worker's idempotency claim finds
REVOKED and drops the message without running the body (taskqueue.idempotency). Only a
task that no run holds can be cancelled: one still queued, or one waiting for its next
delivery after a failed run. A running or finished task is left as it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from celery import Celery, states
from celery.exceptions import TaskRevokedError

from taskqueue.results import STATE_ATTRIBUTE

CANCELLED = "cancelled before it started"


@dataclass(frozen=True)
class Cancellation:
    """The outcome: `state` is the task's state now, None when the id was never queued."""

    cancelled: bool
    state: str | None


def cancel_queued(celery: Celery, task_id: str) -> Cancellation:
    """Mark the task REVOKED unless a run holds it or it succeeded; one conditional PutItem."""
    backend = celery.backend
    revoked = backend.encode_result(TaskRevokedError(CANCELLED), states.REVOKED)
    meta = backend._get_result_meta(
        result=revoked, state=states.REVOKED, traceback=None, request=None
    )
    meta["task_id"] = task_id
    now = time.time()
    try:
        backend.client.put_item(
            TableName=backend.table_name,
            Item={
                **backend.item_key(task_id),
                "result": {"B": backend.encode(meta)},
                STATE_ATTRIBUTE: {"S": states.REVOKED},
                "timestamp": {"N": str(now)},
                "ttl": {"N": str(int(now + backend.time_to_live_seconds))},
            },
            # Known (queued through the web), not succeeded, and no live lease.
            ConditionExpression=(
                "attribute_exists(id)"
                " AND (attribute_not_exists(#state) OR #state <> :success)"
                " AND (attribute_not_exists(lease_until) OR lease_until < :now)"
            ),
            ExpressionAttributeNames={"#state": STATE_ATTRIBUTE},
            ExpressionAttributeValues={
                ":success": {"S": states.SUCCESS},
                ":now": {"N": str(now)},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        held: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
        if not held:
            return Cancellation(cancelled=False, state=None)
        state: str = held.get(STATE_ATTRIBUTE, {}).get("S", states.PENDING)
        return Cancellation(cancelled=False, state=state)
    return Cancellation(cancelled=True, state=states.REVOKED)
