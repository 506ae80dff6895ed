"""Which workers are alive and what they run: each worker's presence item in the results table.

Each worker rewrites its own item `worker#<id>` every WORKER_PRESENCE_INTERVAL seconds (one
UpdateItem: the worker's role has no other table write). The item sits in the results
index (taskqueue.stores.results_index) under the reserved partition `#workers`, sorted by when it
was written, so the web reads the live workers with one Query of `seen_at > now - window`
(WORKER_PRESENCE_WINDOW): a worker that stops writing drops out of the answer within the
window, without waiting for DynamoDB's TTL (which deletes the item later). A worker that
stops cleanly takes its item out of the index at once.

One item per worker rather than one shared item with a map of workers: each worker writes
only its own item (no contention, no read-modify-write), and a dead worker's entry needs
no one to remove it.

The item records each running task's client (the `client` header the web puts on the
message), so a client is shown only its own task ids; the counts are shown to everyone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from celery import Celery

from taskqueue.app_settings import settings_of
from taskqueue.settings import DEFAULT_QUEUE
from taskqueue.stores.results_index import (
    INDEX_NAME,
    PARTITION_ATTRIBUTE,
    PRESENCE_PARTITION,
    SORT_ATTRIBUTE,
)

ITEM_PREFIX = "worker#"
# The item's id names the worker's queue, `worker#<queue>/<worker>`: the index returns the
# table's key with every item, so the list shows the queue without projecting another
# attribute (a deployed index's projection cannot change in place).
QUEUE_SEPARATOR = "/"


@dataclass(frozen=True)
class RunningTask:
    """A task a worker's pool runs, and the client that queued it (None: not the web)."""

    id: str
    client: str | None


@dataclass(frozen=True)
class WorkerPresence:
    """What `GET /workers` shows of one live worker."""

    worker: str
    queue: str
    concurrency: int
    busy: int
    running: list[str]
    version: str
    last_receive: float | None
    seen_at: float


def item_key(worker: str, queue: str = DEFAULT_QUEUE) -> dict[str, dict[str, str]]:
    """The table key of the presence item of `worker`, which consumes `queue`."""
    return {"id": {"S": f"{ITEM_PREFIX}{queue}{QUEUE_SEPARATOR}{worker}"}}


def queue_of(item_id: str) -> str:
    """The queue a presence item's id names (`item_key`'s inverse)."""
    queue, separator, _ = item_id.removeprefix(ITEM_PREFIX).partition(QUEUE_SEPARATOR)
    return queue if separator else DEFAULT_QUEUE


def presence_update(
    table: str,
    *,
    worker: str,
    queue: str = DEFAULT_QUEUE,
    concurrency: int,
    running: list[RunningTask],
    version: str,
    last_receive: float | None,
    now: float,
    window: float,
) -> dict[str, Any]:
    """UpdateItem arguments that (re)write the worker's presence as of `now`."""
    tasks = [{"M": running_attribute(task)} for task in running]
    values: dict[str, Any] = {
        PARTITION_ATTRIBUTE: {"S": PRESENCE_PARTITION},
        SORT_ATTRIBUTE: {"N": repr(now)},
        "worker": {"S": worker},
        "concurrency": {"N": str(concurrency)},
        "busy": {"N": str(len(running))},
        "running": {"L": tasks},
        "version": {"S": version},
        "last_receive": {"NULL": True} if last_receive is None else {"N": repr(last_receive)},
        # DynamoDB deletes it some time after; the readers' window is what hides it.
        "ttl": {"N": str(int(now + window) + 1)},
    }
    return {
        "TableName": table,
        "Key": item_key(worker, queue),
        "UpdateExpression": "SET " + ", ".join(f"#{name} = :{name}" for name in values),
        "ExpressionAttributeNames": {f"#{name}": name for name in values},
        "ExpressionAttributeValues": {f":{name}": value for name, value in values.items()},
    }


def running_attribute(task: RunningTask) -> dict[str, Any]:
    """One running task in the item: its id and (if known) its client."""
    attribute: dict[str, Any] = {"id": {"S": task.id}}
    if task.client is not None:
        attribute["client"] = {"S": task.client}
    return attribute


def retire_update(
    table: str, worker: str, now: float, queue: str = DEFAULT_QUEUE
) -> dict[str, Any]:
    """UpdateItem arguments that take a stopping worker out of the index at once (its
    role may update items, not delete them); the TTL deletes the rest."""
    return {
        "TableName": table,
        "Key": item_key(worker, queue),
        "UpdateExpression": "REMOVE #partition, #sort SET #ttl = :now",
        "ExpressionAttributeNames": {
            "#partition": PARTITION_ATTRIBUTE,
            "#sort": SORT_ATTRIBUTE,
            "#ttl": "ttl",
        },
        "ExpressionAttributeValues": {":now": {"N": str(int(now))}},
    }


def live_workers(
    celery: Celery, *, client: str | None = None, window: float | None = None
) -> list[WorkerPresence]:
    """The workers seen within `window` seconds (default WORKER_PRESENCE_WINDOW), by name;
    with `client`, each one's running task ids are only that client's."""
    backend = celery.backend
    if window is None:
        window = settings_of(celery.flask_app).worker_presence_window
    query: dict[str, Any] = {
        "TableName": backend.table_name,
        "IndexName": INDEX_NAME,
        "KeyConditionExpression": "#partition = :partition AND #sort > :since",
        "ExpressionAttributeNames": {"#partition": PARTITION_ATTRIBUTE, "#sort": SORT_ATTRIBUTE},
        "ExpressionAttributeValues": {
            ":partition": {"S": PRESENCE_PARTITION},
            ":since": {"N": repr(time.time() - window)},
        },
    }
    workers: list[WorkerPresence] = []
    while True:
        page = backend.client.query(**query)
        workers += [presence_of(item, client) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(workers, key=lambda presence: presence.worker)


def presence_of(item: dict[str, Any], client: str | None) -> WorkerPresence:
    """The presence in one index item, its running ids limited to `client`'s (if given)."""
    running = [
        RunningTask(id=task["M"]["id"]["S"], client=task["M"].get("client", {}).get("S"))
        for task in item["running"]["L"]
    ]
    last_receive = item["last_receive"].get("N")
    return WorkerPresence(
        worker=item["worker"]["S"],
        queue=queue_of(item["id"]["S"]),
        concurrency=int(item["concurrency"]["N"]),
        busy=int(item["busy"]["N"]),
        running=[task.id for task in running if client is None or task.client == client],
        version=item["version"]["S"],
        last_receive=None if last_receive is None else float(last_receive),
        seen_at=float(item[SORT_ATTRIBUTE]["N"]),
    )
