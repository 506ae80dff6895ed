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
admitted. The counter costs a consistent GetItem and a conditional PutItem (the web's role
may only get and put items), and its condition is the compare-and-swap that admits exactly
one of two concurrent POSTs at cap - 1 (the other reads again and is refused).

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
# Attempts of one compare-and-swap before giving up: each failed one means another request
# of the same client changed the count meanwhile.
ATTEMPTS = 20


class WaitingContended(Exception):
    """The client's count kept changing under every attempt to change it."""


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
    """Take one of `owner`'s `cap` slots; False when all are taken (nothing changed)."""
    return _change(client, table, owner, +1, cap=cap, horizon=horizon, now=now)


def give_back(client: Any, table: str, owner: str, *, now: float | None = None) -> None:
    """Give one of `owner`'s slots back with GetItem and PutItem (the web: a failed send,
    a cancel); a count already at zero (or expired) stays so."""
    _change(client, table, owner, -1, now=now)


def release(client: Any, table: str, owner: str) -> None:
    """Give one of `owner`'s slots back with one UpdateItem (the worker); a count already at
    zero or gone stays so."""
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


def _change(
    client: Any,
    table: str,
    owner: str,
    step: int,
    *,
    cap: int | None = None,
    horizon: int | None = None,
    now: float | None = None,
) -> bool:
    """Read the count and write it `step` further on condition it did not change meanwhile;
    False when taking a slot would pass `cap`."""
    for _ in range(ATTEMPTS):
        moment = time.time() if now is None else now
        item = client.get_item(TableName=table, Key=counter_key(owner), ConsistentRead=True).get(
            "Item"
        )
        expires = int(item["ttl"]["N"]) if item and "ttl" in item else None
        live = item is not None and expires is not None and expires > moment
        count = int(item[COUNT_ATTRIBUTE]["N"]) if live and item else 0
        if cap is not None and count >= cap:
            return False
        if step < 0 and count == 0:
            return True
        new_expires = int(moment + horizon) if horizon is not None else expires
        written = {
            **counter_key(owner),
            COUNT_ATTRIBUTE: {"N": str(count + step)},
            "ttl": {"N": str(new_expires if new_expires is not None else int(moment))},
        }
        if item is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(id)"}
        else:
            condition = {
                "ConditionExpression": "#count = :count AND #ttl = :ttl",
                "ExpressionAttributeNames": {"#count": COUNT_ATTRIBUTE, "#ttl": "ttl"},
                "ExpressionAttributeValues": {
                    ":count": item[COUNT_ATTRIBUTE],
                    ":ttl": item["ttl"],
                },
            }
        try:
            client.put_item(TableName=table, Item=written, **condition)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            continue  # another request of this client changed the count: read again
        return True
    raise WaitingContended(owner)
