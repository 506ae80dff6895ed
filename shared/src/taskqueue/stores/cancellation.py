"""Cancel a task: no remote control on SQS, so the task's own record carries the request.

A task that no run holds (still queued, or waiting for its next delivery after a failed
run) is marked REVOKED at once. The message stays in SQS until a worker receives it; that
worker's idempotency claim finds REVOKED and drops the message without running the body
(taskqueue.runtime.run_once).

A running task (a live lease) gets a cancel request on its record instead: the worker's
visibility extension reads it at its next beat, stops the task
(taskqueue.runtime.visibility_extension), records REVOKED and acknowledges the message. A finished
task is left as it is.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from celery import Celery, states
from celery.exceptions import TaskRevokedError

from taskqueue.app_settings import settings_of
from taskqueue.stores import waiting
from taskqueue.stores.results import (
    CLIENT_ATTRIBUTE,
    STATE_ATTRIBUTE,
    TaskStatus,
    listed_attributes,
    named,
    status_of,
)

logger = logging.getLogger(__name__)

CANCELLED = "cancelled before it started"
CANCELLED_WHILE_RUNNING = "cancelled while it ran"
# The item attribute that asks a running task to stop: when the request was made.
CANCEL_ATTRIBUTE = "cancel_requested"


@dataclass(frozen=True)
class Cancellation:
    """The outcome: the task's state now (None when the id was never queued), its
    status when this call cancelled it or asked it to stop (None when it was too late),
    and whether it was asked to stop (running) rather than cancelled (queued)."""

    state: str | None
    status: TaskStatus | None = None
    requested: bool = False


def cancel_queued(celery: Celery, task_id: str, client: str) -> Cancellation:
    """Mark the task REVOKED unless a run holds it or it succeeded; one conditional PutItem
    (after a read of what keeps it in the task list). A task another client queued is, to
    `client`, a task never queued."""
    backend = celery.backend
    revoked = backend.encode_result(TaskRevokedError(CANCELLED), states.REVOKED)
    meta = backend.state_meta(task_id, states.REVOKED, revoked)
    put = backend.state_put(task_id, meta, client=client)
    # Kept until a delayed task's last possible due time has passed too: a record gone
    # before its message is due would let the message run (taskqueue.catalogue.delays).
    put["Item"]["ttl"]["N"] = str(int(put["Item"]["ttl"]["N"]) + max_delay(celery))
    put["Item"].update(listed_attributes(celery, task_id))
    try:
        answer = backend.client.put_item(
            **put,
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
            ReturnValues="ALL_OLD",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        held: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
        if not held or held.get(CLIENT_ATTRIBUTE, {}).get("S") != client:
            return Cancellation(state=None)
        return Cancellation(state=held.get(STATE_ATTRIBUTE, {}).get("S", states.PENDING))
    # The put wrote the item afresh, without the mark of a waiting slot: give it back.
    if waiting.held_slot(answer.get("Attributes") or {}) is not None:
        try:
            waiting.give_back(backend.client, backend.table_name, client)
        except Exception:
            logger.warning("could not give back the waiting slot of task %s", task_id)
    status = named(status_of(backend.meta_from_decoded(dict(meta))), put["Item"])
    return Cancellation(state=states.REVOKED, status=status)


def max_delay(celery: Celery) -> int:
    """The longest delay a task may have been queued with (TASK_MAX_DELAY)."""
    return settings_of(celery.flask_app).task_max_delay


class CancelContended(Exception):
    """The running task's record changed under every attempt to add the cancel request."""


def request_cancel(celery: Celery, task_id: str, client: str, attempts: int = 5) -> Cancellation:
    """Ask a running task (a live lease, not finished) of `client` to stop; another client's
    task is, to `client`, a task never queued.

    The web may only read and put items (its role has no UpdateItem), so the request is the
    item read consistently and put back with `cancel_requested`, on condition that neither
    its lease (the worker's heartbeat) nor its timestamp (a state write) changed meanwhile.
    """
    backend = celery.backend
    for _ in range(attempts):
        item: dict[str, Any] = (
            backend.client.get_item(
                TableName=backend.table_name, Key=backend.item_key(task_id), ConsistentRead=True
            ).get("Item")
            or {}
        )
        if not item or item.get(CLIENT_ATTRIBUTE, {}).get("S") != client:
            return Cancellation(state=None)
        state = item.get(STATE_ATTRIBUTE, {}).get("S", states.PENDING)
        lease_until = float(item.get("lease_until", {}).get("N", "0"))
        if state in (states.SUCCESS, states.FAILURE, states.REVOKED) or lease_until < time.time():
            return Cancellation(state=state)
        status = named(status_of(backend.decode_result(item["result"]["B"])), item)
        if CANCEL_ATTRIBUTE in item:  # asked before: the same answer
            return Cancellation(state=state, status=status, requested=True)
        try:
            backend.client.put_item(
                TableName=backend.table_name,
                Item={**item, CANCEL_ATTRIBUTE: {"N": str(time.time())}},
                ConditionExpression="lease_until = :lease AND #timestamp = :timestamp",
                ExpressionAttributeNames={"#timestamp": "timestamp"},
                ExpressionAttributeValues={
                    ":lease": item["lease_until"],
                    ":timestamp": item["timestamp"],
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            continue  # the worker wrote in between: read again
        return Cancellation(state=state, status=status, requested=True)
    raise CancelContended(task_id)


def mark_revoked(celery: Celery, task_id: str) -> None:
    """Record a running task that was stopped on request as REVOKED and end its lease."""
    backend = celery.backend
    revoked = backend.encode_result(TaskRevokedError(CANCELLED_WHILE_RUNNING), states.REVOKED)
    update = backend.state_update(task_id, backend.state_meta(task_id, states.REVOKED, revoked))
    update["UpdateExpression"] += ", lease_until = :expired"
    update["ExpressionAttributeValues"][":expired"] = {"N": "0"}
    try:
        backend.client.update_item(**update)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        # It succeeded first: the success stands.
