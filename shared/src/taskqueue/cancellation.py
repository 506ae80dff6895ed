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

from taskqueue.results import CLIENT_ATTRIBUTE, STATE_ATTRIBUTE, TaskStatus, status_of

CANCELLED = "cancelled before it started"


@dataclass(frozen=True)
class Cancellation:
    """The outcome: the task's state now (None when the id was never queued), and its
    status when this call cancelled it (None when it was too late)."""

    state: str | None
    status: TaskStatus | None = None


def cancel_queued(celery: Celery, task_id: str, client: str) -> Cancellation:
    """Mark the task REVOKED unless a run holds it or it succeeded; one conditional PutItem.
    A task another client queued is, to `client`, a task never queued."""
    backend = celery.backend
    revoked = backend.encode_result(TaskRevokedError(CANCELLED), states.REVOKED)
    meta = backend.state_meta(task_id, states.REVOKED, revoked)
    try:
        backend.client.put_item(
            **backend.state_put(task_id, meta, client=client),
            # Queued through the web by this client, not succeeded, and no live lease.
            ConditionExpression=(
                "#client = :client"
                " AND (attribute_not_exists(#state) OR #state <> :success)"
                " AND (attribute_not_exists(lease_until) OR lease_until < :now)"
            ),
            ExpressionAttributeNames={"#state": STATE_ATTRIBUTE, "#client": CLIENT_ATTRIBUTE},
            ExpressionAttributeValues={
                ":client": {"S": client},
                ":success": {"S": states.SUCCESS},
                ":now": {"N": str(time.time())},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        held: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
        if not held or held.get(CLIENT_ATTRIBUTE, {}).get("S") != client:
            return Cancellation(state=None)
        return Cancellation(state=held.get(STATE_ATTRIBUTE, {}).get("S", states.PENDING))
    status = status_of(backend.meta_from_decoded(dict(meta)))
    return Cancellation(state=states.REVOKED, status=status)
