"""A client's tasks, newest first, a page at a time: a Query of the index, never a Scan.

The cursor is the index key of the last task of a page (its task id and the index's
`client`, `queued_at`), base64url JSON: opaque to the client, and checked on the way back
to name the calling client (the Query's partition is the caller's anyway, so a forged
cursor could only skip among the caller's own tasks).

A `state` filter is a FilterExpression: DynamoDB applies it after `Limit`, so a Query page
may hold fewer matches than asked; the list reads on (at most `MAX_QUERIES` Queries) until
it has `limit` tasks or the index has no more, and a page cut short by that bound still
carries a cursor to go on from.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from celery import Celery, states

from taskqueue.stores.results import DEAD_LETTERED, PROGRESS, SCHEDULED, TASK_ID
from taskqueue.stores.results_index import (
    INDEX_NAME,
    PARTITION_ATTRIBUTE,
    PROGRESS_ATTRIBUTE,
    SORT_ATTRIBUTE,
    STATE_ATTRIBUTE,
    TASK_ATTRIBUTE,
)

MAX_LIMIT = 100
# Queries one filtered page may take, and how many items each reads: a rare state costs at
# most MAX_QUERIES * FILTERED_READ small index items per page.
MAX_QUERIES = 5
FILTERED_READ = 100
# What a task can be in (Celery's states, the tasks' own PROGRESS, and this project's).
LISTED_STATES = frozenset(states.ALL_STATES | {PROGRESS, SCHEDULED, DEAD_LETTERED})
# A cursor holds a task id (results.TASK_ID) and a time `mark_queued` wrote
# (`str(time.time())`): anything else is not one of ours (and could be no DynamoDB number).
QUEUED_AT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,20})?")


class InvalidCursor(ValueError):
    """The cursor does not decode to a position in the calling client's list."""


@dataclass(frozen=True)
class TaskSummary:
    """One line of the list: which task, its state, when queued and last changed."""

    id: str
    task: str
    state: str
    queued_at: float
    updated_at: float
    progress: dict[str, int] | None


@dataclass(frozen=True)
class TaskPage:
    """A page of the list; `next_cursor` is None on the last one."""

    items: list[TaskSummary]
    next_cursor: str | None


def list_tasks(
    celery: Celery,
    client: str,
    *,
    state: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> TaskPage:
    """`client`'s tasks (in `state`, if given), newest first, from `cursor` on."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1 to {MAX_LIMIT}")
    if state is not None and state not in LISTED_STATES:
        raise ValueError(f"no task state {state!r}")
    backend = celery.backend
    query: dict[str, Any] = {
        "TableName": backend.table_name,
        "IndexName": INDEX_NAME,
        "KeyConditionExpression": "#client = :client",
        "ExpressionAttributeNames": {"#client": PARTITION_ATTRIBUTE},
        "ExpressionAttributeValues": {":client": {"S": client}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if state is not None:
        query["FilterExpression"] = "#state = :state"
        query["ExpressionAttributeNames"]["#state"] = STATE_ATTRIBUTE
        query["ExpressionAttributeValues"][":state"] = {"S": state}
        query["Limit"] = max(limit, FILTERED_READ)
    start = None if cursor is None else backend_key(backend, *decode_cursor(cursor, client))
    items: list[dict[str, Any]] = []
    for _ in range(MAX_QUERIES):
        if start is not None:
            query["ExclusiveStartKey"] = start
        page = backend.client.query(**query)
        found = page["Items"]
        start = page.get("LastEvaluatedKey")
        if len(items) + len(found) >= limit:
            taken = found[: limit - len(items)]
            items += taken
            more = len(taken) < len(found) or start is not None
            start = index_key(taken[-1]) if more else None
            break
        items += found
        if start is None:
            break
    return TaskPage(
        items=[summary(backend, item) for item in items],
        next_cursor=None if start is None else cursor_of(backend, start),
    )


def summary(backend: Any, item: dict[str, Any]) -> TaskSummary:
    """The list's line of one index item."""
    progress = item.get(PROGRESS_ATTRIBUTE, {}).get("M")
    return TaskSummary(
        id=backend.task_id_of(item["id"]["S"]),
        task=item[TASK_ATTRIBUTE]["S"],
        state=item[STATE_ATTRIBUTE]["S"],
        queued_at=float(item[SORT_ATTRIBUTE]["N"]),
        updated_at=float(item["timestamp"]["N"]),
        progress=None if progress is None else {k: int(v["N"]) for k, v in progress.items()},
    )


def index_key(item: dict[str, Any]) -> dict[str, Any]:
    """The index key of an item, as DynamoDB's LastEvaluatedKey spells it."""
    return {name: item[name] for name in ("id", PARTITION_ATTRIBUTE, SORT_ATTRIBUTE)}


def backend_key(backend: Any, task_id: str, client: str, queued_at: str) -> dict[str, Any]:
    """The index key of the task `task_id` of `client`, queued at `queued_at`."""
    return {
        **backend.item_key(task_id),
        PARTITION_ATTRIBUTE: {"S": client},
        SORT_ATTRIBUTE: {"N": queued_at},
    }


def cursor_of(backend: Any, key: dict[str, Any]) -> str:
    """The opaque cursor of an index key: the task id, client and time, base64url JSON."""
    plain = {
        "i": backend.task_id_of(key["id"]["S"]),
        "c": key[PARTITION_ATTRIBUTE]["S"],
        "t": key[SORT_ATTRIBUTE]["N"],
    }
    text = json.dumps(plain, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, client: str) -> tuple[str, str, str]:
    """The task id, client and time a cursor of `client`'s list stands for; InvalidCursor
    for anything else (not one of ours, or another client's)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        plain = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        task_id, owner, queued_at = plain["i"], plain["c"], plain["t"]
        if not all(isinstance(value, str) for value in (task_id, owner, queued_at)):
            raise TypeError("not a cursor")
        if not (TASK_ID.fullmatch(task_id) and QUEUED_AT.fullmatch(queued_at)):
            raise ValueError("not a cursor")
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError) as error:
        raise InvalidCursor("the cursor is not one this list gave") from error
    if owner != client:
        raise InvalidCursor("the cursor belongs to another client's list")
    return task_id, owner, queued_at
