"""A cap on each client's waiting work (queued or SCHEDULED, not yet started), without a Scan.

Each client has one counter item in the results table, `waiting#<client>`: `waiting`, the
tasks it has waiting, and the table's `ttl`. POST /tasks takes a slot before it records or
sends anything (`admit`); a client at CLIENT_MAX_WAITING gets 429 and nothing is queued. The
task's item records that it holds a slot (`SLOT_ATTRIBUTE`), and whatever ends its waiting
removes that mark in the same conditional write as its own state, so one task gives its slot
back once: the worker's first claim (taskqueue.runtime.run_once), a cancel while it waits
(taskqueue.stores.cancellation), the dead-letter sweep of a task no run saw. A send that
failed in the web gives it back at once.

Why a counter and not a count: a sparse index queried with Select=COUNT would be exact but
reads every waiting item on each POST (a client at a cap of 1000 pays for 1000 keys per
request) and is not atomic: two POSTs at cap - 1 would both read cap - 1 and both be
admitted. The counter is one conditional UpdateItem (`admit`): DynamoDB applies it
atomically, so of two POSTs at cap - 1 exactly one is admitted, and concurrent POSTs of one
client never retry (a read-then-write compare-and-swap made 20 of them retry each other into
503s). The web's role may update only these counter items (the `dynamodb:LeadingKeys`
condition on `waiting#*`, infra/stack.py).

How it cannot drift forever: a slot stays taken only if a process dies between the two
writes of a start (the claim, then the release) or of a failed send, or if a task's item
expires before any run claims it. No counted task can wait longer than TASK_MAX_DELAY plus
RESULT_EXPIRES (its item's lifetime), so the counter's `ttl` is pushed that far past each
admission: once a client has queued nothing for that long, every slot it counts has ended,
and the counter reads as zero (expired, whether or not DynamoDB has deleted it yet). A
client that queues without such a pause keeps a leaked slot until then; each leak needs a
crash between two writes or a day-old backlog.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from botocore.exceptions import ClientError

from taskqueue.stores.results import CLIENT_ATTRIBUTE, SLOT_ATTRIBUTE

logger = logging.getLogger(__name__)

ITEM_PREFIX = "waiting#"
COUNT_ATTRIBUTE = "waiting"


def counter_key(client: str) -> dict[str, dict[str, str]]:
    """The key of `client`'s counter item."""
    return {"id": {"S": f"{ITEM_PREFIX}{client}"}}


def horizon_seconds(task_max_delay: int, result_expires: int) -> int:
    """How long past its last admission a client's counter is kept: the longest a counted
    task's item lives (its due time at most TASK_MAX_DELAY ahead, then RESULT_EXPIRES)."""
    return task_max_delay + result_expires


def admit(
    client: Any, table: str, owner: str, cap: int, horizon: int, *, now: float | None = None
) -> bool:
    """Take one of `owner`'s `cap` slots with one conditional UpdateItem; False when all are
    taken (nothing changed). A counter past its `ttl` counts as zero: it starts again at one."""
    moment = time.time() if now is None else now
    names = {"#count": COUNT_ATTRIBUTE, "#ttl": "ttl"}
    expires = {"N": str(int(moment + horizon))}
    try:
        client.update_item(
            TableName=table,
            Key=counter_key(owner),
            UpdateExpression="SET #count = if_not_exists(#count, :zero) + :one, #ttl = :ttl",
            ConditionExpression="attribute_not_exists(#count) OR (#count < :cap AND #ttl > :now)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
                ":cap": {"N": str(cap)},
                ":ttl": expires,
                ":now": {"N": str(int(moment))},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        held: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
    if "ttl" in held and float(held["ttl"]["N"]) > moment:
        return False  # live, and every slot taken
    # Expired: every slot it counted has ended. Start it again at one, unless another request
    # of this client restarted it first (then take a slot of the restarted count).
    try:
        client.update_item(
            TableName=table,
            Key=counter_key(owner),
            UpdateExpression="SET #count = :one, #ttl = :ttl",
            ConditionExpression="#ttl = :expired",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":ttl": expires,
                ":expired": held["ttl"],
            },
        )
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    return admit(client, table, owner, cap, horizon, now=now)


def give_back(client: Any, table: str, owner: str, *, now: float | None = None) -> None:
    """Give one of `owner`'s slots back (a failed send, a cancel, a claim): one UpdateItem; a
    count already at zero or gone stays so."""
    try:
        client.update_item(
            TableName=table,
            Key=counter_key(owner),
            UpdateExpression="ADD #count :minus",
            ConditionExpression="#count > :zero",
            ExpressionAttributeNames={"#count": COUNT_ATTRIBUTE},
            ExpressionAttributeValues={":minus": {"N": "-1"}, ":zero": {"N": "0"}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


release = give_back
"""The worker's name for it (the claim, the dead-letter sweep)."""


def held_slot(item: dict[str, Any]) -> str | None:
    """The client whose slot a task's item (as it was before a write that removed the mark)
    held; None when it held none."""
    if SLOT_ATTRIBUTE not in item:
        return None
    owner = item.get(CLIENT_ATTRIBUTE, {}).get("S")
    return owner if isinstance(owner, str) and owner else None


def release_held(client: Any, table: str, previous: dict[str, Any], task_id: str) -> None:
    """After a write that ended a task's waiting: give its slot back if `previous` (the item
    before it) held one. A failure is logged, never raised: the slot ends with its counter."""
    owner = held_slot(previous)
    if owner is None:
        return
    try:
        release(client, table, owner)
    except Exception:
        logger.warning("could not give back the waiting slot of task %s", task_id)


def end_waiting(client: Any, table: str, key: dict[str, Any], task_id: str) -> None:
    """A task that will never start from this message (it reached the DLQ before any claim):
    remove its slot's mark, and give the slot back if the mark was still there."""
    try:
        answer = client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="REMOVE #slot",
            ConditionExpression="attribute_exists(#slot)",
            ExpressionAttributeNames={"#slot": SLOT_ATTRIBUTE},
            ReturnValues="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return
    release_held(client, table, answer.get("Attributes") or {}, task_id)
