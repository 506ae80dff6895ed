"""API keys of named clients, kept in the results table as SHA-256 hashes only.

A key is `tq_` and 43 URL-safe characters (`secrets.token_urlsafe(32)`: 256 random bits).
Its item is `apikey#<sha256 hex>` in the results table, beside the task items (ids are
UUIDs, so the key spaces never meet), without a `ttl`: it never expires. The web looks a
presented key up by its hash (one GetItem): DynamoDB's lookup time can depend on the hash,
never on the key, and learning a hash's bytes gives nothing toward a key that hashes to it,
so no comparison of secrets happens anywhere. The key itself is printed once, by
`taskqueue keys create`, and stored nowhere.

The operator's commands (`list`, `revoke`) scan the table for the key items: the table
also holds a day of task records, which a scan reads too (one page per MB).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

KEY_PREFIX = "tq_"
ITEM_PREFIX = "apikey#"
# What `new_key` makes (a longer token is accepted too); anything else is malformed.
KEY_FORMAT = re.compile(rf"{KEY_PREFIX}[A-Za-z0-9_-]{{43,128}}")
CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ClientNameError(ValueError):
    """The name is not a client name, or a client of that name exists."""


@dataclass(frozen=True)
class ClientKey:
    """What `taskqueue keys list` shows of one key (never the key)."""

    client: str
    created: float
    last_used: float | None


def new_key() -> str:
    """A fresh key: the prefix and 256 random bits, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def well_formed(key: str) -> bool:
    """Whether `key` could have been made by `new_key` (checked before any lookup)."""
    return KEY_FORMAT.fullmatch(key) is not None


def key_hash(key: str) -> str:
    """The SHA-256 of the key, hex: the only form in which it is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def item_key(digest: str) -> dict[str, dict[str, str]]:
    """The table key of the item of the key with hash `digest`."""
    return {"id": {"S": ITEM_PREFIX + digest}}


def create(dynamodb: Any, table: str, client: str) -> str:
    """Make a key for a new client named `client`; the key (shown once, stored hashed)."""
    key = new_key()
    register(dynamodb, table, client, key)
    return key


def register(dynamodb: Any, table: str, client: str, key: str) -> None:
    """Store the hash of `key` (made by `new_key`) as the key of a new client `client`."""
    if not well_formed(key):
        raise ValueError("not a key made by new_key()")
    if not CLIENT_NAME.fullmatch(client):
        raise ClientNameError(
            f"{client!r} is not a client name: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, at most 64"
        )
    if any(entry.client == client for entry in list_keys(dynamodb, table)):
        raise ClientNameError(f"client {client!r} exists: revoke it first")
    dynamodb.put_item(
        TableName=table,
        Item={
            **item_key(key_hash(key)),
            "client": {"S": client},
            "created": {"N": str(time.time())},
        },
        ConditionExpression="attribute_not_exists(id)",
    )


def lookup(dynamodb: Any, table: str, key: str) -> ClientKey | None:
    """The client whose key `key` is, or None for an unknown (or revoked) key."""
    item = dynamodb.get_item(TableName=table, Key=item_key(key_hash(key))).get("Item")
    return None if item is None else _entry(item)


def record_use(dynamodb: Any, table: str, key: str, entry: ClientKey, when: float) -> None:
    """Set the key's last use to `when`; a key revoked meanwhile stays deleted.

    A conditional PutItem of the whole item, not an UpdateItem: the web's role keeps its two
    table actions (GetItem, PutItem), and the condition never brings a revoked key back.
    """
    try:
        dynamodb.put_item(
            TableName=table,
            Item={
                **item_key(key_hash(key)),
                "client": {"S": entry.client},
                "created": {"N": str(entry.created)},
                "last_used": {"N": str(when)},
            },
            ConditionExpression="attribute_exists(id)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def _entry(item: dict[str, Any]) -> ClientKey:
    """The `ClientKey` of one key item."""
    return ClientKey(
        client=item["client"]["S"],
        created=float(item["created"]["N"]),
        last_used=float(item["last_used"]["N"]) if "last_used" in item else None,
    )


def _key_items(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every key item of the table (a scan, filtered to the key items)."""
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="begins_with(id, :prefix)",
        ExpressionAttributeValues={":prefix": {"S": ITEM_PREFIX}},
    ):
        yield from page["Items"]


def list_keys(dynamodb: Any, table: str) -> list[ClientKey]:
    """Every client's key: who, when made, when last used; oldest first."""
    entries = [_entry(item) for item in _key_items(dynamodb, table)]
    return sorted(entries, key=lambda entry: entry.created)


def revoke(dynamodb: Any, table: str, client: str) -> int:
    """Delete the keys of `client`; how many there were."""
    revoked = 0
    for item in _key_items(dynamodb, table):
        if item["client"]["S"] == client:
            dynamodb.delete_item(TableName=table, Key={"id": item["id"]})
            revoked += 1
    return revoked
