"""Idempotency-Key: a request repeated with the same key queues its task once.

The task's own item is the key's record. A client's key names its task: the id is derived
from the client and the key (`task_id_for`), and the record the web writes before the send
anyway (`mark_queued`'s PENDING or SCHEDULED PutItem) becomes conditional (`claim`): only an
id with no record, or one whose record has expired, takes it. The record keeps the SHA-256
of the request (`FINGERPRINT_ATTRIBUTE`), and a failed condition returns the record as it
is (ReturnValuesOnConditionCheckFailure), so a repeat needs no read either. DynamoDB applies
the condition atomically: of two requests with one key at once, one writes the record.

Why not a separate `idempotency#<client>#<sha256(key)>` item: it would cost every request
with a key a write of its own before the send and another after it (to mark it done), and
keep a TTL of its own beside the task's. The task item already has a conditional write, a
TTL, its owner and the run-once guard keyed on its id; with a derived id, the same task
sent twice still runs once (taskqueue.runtime.run_once). So the first request with a key
makes exactly the requests one without a key makes.

What a repeat learns (`Recorded`): the first request's fingerprint, and whether the first
may still be sending. Once its send is answered, the first request marks its record sent
(`mark_sent`: one more conditional PutItem, for keyed requests only), so a repeat right after
the first's 202 gets that 202 again. A record that is still the web's own write (no state
since: the worker's claim writes STARTED), not marked sent, and younger than the longest the
first request may take to send (its SDK timeouts) means the first may still be sending.

The caller answers from that: another body is refused; the same body gets the first answer,
or 409 while the first may still be sending. A request whose send failed gives its record up
(`release`); one whose web process was killed between the record and the send leaves a
record no message follows, and its repeats answer its id while it stays PENDING until it
expires.

A key is remembered as long as its task's record lives: RESULT_EXPIRES (24 hours by
default) after the task's last state. Afterwards the same key queues a new task, under the
same id.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from celery import states

from taskqueue.stores.results import (
    CLIENT_ATTRIBUTE,
    FINGERPRINT_ATTRIBUTE,
    QUEUED_AT_ATTRIBUTE,
    SCHEDULED,
    STATE_ATTRIBUTE,
)

# The draft's key is a string of 1 to 255 characters here (draft-ietf-httpapi-idempotency-key-
# header leaves its length to the server).
MAX_KEY_LENGTH = 255
# The namespace of the derived task ids (RFC 9562 name-based UUIDs); fixed for good: another
# one would give every key a new id.
NAMESPACE = uuid.UUID("6f1c1d8e-43a4-4d0b-9a55-0c5b7e3f2a91")
# A released record's `ttl`: an hour ago, so it is expired by any web's clock and DynamoDB's
# TTL still deletes it (it skips items expired more than five years ago).
RELEASED_AGE_SECONDS = 3600
# The mark of a record whose request's send was answered (`mark_sent`).
SENT_ATTRIBUTE = "request_sent"
# The states the web writes before the send (`mark_queued`).
WEB_STATES = (states.PENDING, SCHEDULED)


def task_id_for(client: str, key: str) -> str:
    """The id of the task `client` queues with Idempotency-Key `key`: a name-based UUID of
    both, so another client's same key is another task (client names hold no newline)."""
    return str(uuid.uuid5(NAMESPACE, f"{client}\n{key}"))


def fingerprint(body: Any) -> str:
    """The SHA-256 of a request's JSON body, whatever its keys' order or its spacing."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Recorded:
    """What a repeat of a key learns of its record."""

    fingerprint: str | None
    sending_since: float | None
    """When the web wrote the record, while it is still the web's own write (its send's
    answer may be pending); None once a state was written after it."""


def recorded(item: dict[str, Any]) -> Recorded:
    """The `Recorded` of a task's item."""
    digest = item.get(FINGERPRINT_ATTRIBUTE, {}).get("S")
    state = item.get(STATE_ATTRIBUTE, {}).get("S")
    queued_at = item.get(QUEUED_AT_ATTRIBUTE, {}).get("N")
    sent = item.get(SENT_ATTRIBUTE, {}).get("BOOL", False)
    # mark_queued writes `queued_at` and `timestamp` from one clock reading; any later state
    # write moves `timestamp`.
    own = state in WEB_STATES and queued_at is not None and item["timestamp"]["N"] == queued_at
    if own and not sent:
        return Recorded(digest, float(queued_at))
    return Recorded(digest, None)


class KeyInUse(Exception):
    """The key's record is live: this request repeats the first one with the key."""

    def __init__(self, record: Recorded) -> None:
        super().__init__("the Idempotency-Key has a live record")
        self.record = record


def claim(dynamodb: Any, put: dict[str, Any], digest: str, now: float) -> None:
    """Write a task's first record `put` (mark_queued's PutItem arguments) with its request's
    fingerprint `digest`, on condition that the id has no live record; KeyInUse (with the
    record) when it has one. One conditional PutItem."""
    put["Item"][FINGERPRINT_ATTRIBUTE] = {"S": digest}
    try:
        dynamodb.put_item(
            **put,
            ConditionExpression="attribute_not_exists(#id) OR #ttl < :now",
            ExpressionAttributeNames={"#id": "id", "#ttl": "ttl"},
            ExpressionAttributeValues={":now": {"N": str(int(now))}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        held: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
        raise KeyInUse(recorded(held)) from error


def release(dynamodb: Any, put: dict[str, Any], now: float) -> bool:
    """Give up the record `claim` wrote with `put` (its send failed), unless something wrote
    the item since: the next request with the key then takes it afresh. Whether it did.

    One conditional PutItem of an expired item that keeps only the owner and the
    fingerprint: no state (GET /tasks/<id> answers 404), no place in the task list. Should
    the failed send have reached SQS after all, the worker's claim fills the item in, and a
    repeat finds the task.
    """
    item = {name: put["Item"][name] for name in ("id", CLIENT_ATTRIBUTE, FINGERPRINT_ATTRIBUTE)}
    item["ttl"] = {"N": str(int(now) - RELEASED_AGE_SECONDS)}
    return replace_unless_written_since(dynamodb, put, item)


def mark_sent(dynamodb: Any, put: dict[str, Any]) -> None:
    """Mark the record `claim` wrote with `put` sent (its request's SendMessage was answered),
    unless a state was written since (the worker's claim already ended the window). A
    conditional PutItem of the same item: the web's role may put task items, not update them.
    """
    replace_unless_written_since(dynamodb, put, {**put["Item"], SENT_ATTRIBUTE: {"BOOL": True}})


def replace_unless_written_since(dynamodb: Any, put: dict[str, Any], item: dict[str, Any]) -> bool:
    """Put `item` in place of the record `claim` wrote with `put`, on condition that no write
    came since (every state write moves `timestamp`); whether it did."""
    try:
        dynamodb.put_item(
            TableName=put["TableName"],
            Item=item,
            ConditionExpression="#timestamp = :written",
            ExpressionAttributeNames={"#timestamp": "timestamp"},
            ExpressionAttributeValues={":written": put["Item"]["timestamp"]},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def lookup(dynamodb: Any, table: str, key: dict[str, Any], now: float) -> Recorded | None:
    """The live record at the task item `key` (a consistent read), or None."""
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    if item is None or float(item.get("ttl", {}).get("N", "0")) < now:
        return None
    return recorded(item)
