"""Task states in the DynamoDB results table."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError
from celery import Celery, states
from celery.backends.dynamodb import DynamoDBBackend
from celery.exceptions import Reject

from taskqueue import aws_session
from taskqueue.stores import large_results
from taskqueue.stores.chords import ChordsRefused
from taskqueue.stores.large_results import ResultObject

# The item attribute that holds the state in the clear, for conditional writes.
STATE_ATTRIBUTE = "state"
# The item attribute naming the client that queued the task (taskqueue.stores.api_keys); the
# worker's updates name only their own attributes, so it stays.
CLIENT_ATTRIBUTE = "client"
# The ids a task may have: Celery's UUIDs and a schedule's fires, schedule-<name>-<time>
# (taskqueue.catalogue.schedules); anything else was never queued here.
TASK_ID = re.compile(r"[A-Za-z0-9_:-]{1,100}")
# The state of a task queued with a delay until it is due (taskqueue.catalogue.delays); its record's
# result is {"due": <RFC 3339>}, and {"due", "reason": RATE_LIMITED} while a rate-limited task
# waits for its turn (taskqueue.runtime.rate_gate).
SCHEDULED = "SCHEDULED"
RATE_LIMITED = "rate limited"
# The state a task reports while it runs, with `{"current", "total"}` (self.update_state).
PROGRESS = "PROGRESS"
# The state of a task whose message SQS moved (or is about to move) to the dead-letter
# queue; its record's result is {"reason", "error"} (taskqueue.runtime.dead_letters).
DEAD_LETTERED = "DEAD_LETTERED"
# The states a task stays in until something outside it acts (a redrive, a new request).
FINAL_STATES = frozenset(states.READY_STATES | {DEAD_LETTERED})
# When the web queued the task and which task it is: the index of a client's tasks
# (taskqueue.stores.results_index) sorts by the one and shows the other. Written once, by
# `mark_queued`; a state write never names them, so they stay.
QUEUED_AT_ATTRIBUTE = "queued_at"
TASK_ATTRIBUTE = "task"
# The mark of a task that holds one of its client's waiting slots until it starts
# (taskqueue.stores.waiting).
SLOT_ATTRIBUTE = "waiting_slot"
# A PROGRESS state's `{"current", "total"}` in the clear (NULL in any other state), so the
# task list shows progress without decoding Celery's record.
PROGRESS_ATTRIBUTE = "progress"
# The SHA-256 of the request that queued the task with an Idempotency-Key
# (taskqueue.stores.idempotency): a repeat of the key with another body is refused.
FINGERPRINT_ATTRIBUTE = "request_sha256"


class ProvisionedTableBackend(DynamoDBBackend):  # type: ignore[misc]
    """Celery's DynamoDB backend for a table the stack owns, one request per state.

    Celery's own backend calls DescribeTable/CreateTable and UpdateTimeToLive on its first
    use; the table and its TTL are provisioned by the CDK stack (or the local bootstrap),
    so this one only reads and writes items, with bounded timeouts.

    Celery reads a task's record before each state it stores, so that a late duplicate
    never overwrites SUCCESS: a GetItem and a PutItem per state. Here the state also sits
    in its own attribute and one conditional UpdateItem does both. An update keeps the
    attributes it does not name, such as the idempotency lease (taskqueue.runtime.run_once).
    """

    def _get_client(
        self, access_key_id: str | None = None, secret_access_key: str | None = None
    ) -> Any:
        if self._client is None:  # type: ignore[has-type]
            self._client = aws_session.client(
                "dynamodb",
                region_name=self.aws_region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=Config(**self.app.conf.get("dynamodb_client_config", {})),
            )
        return self._client

    def item_key(self, task_id: str) -> dict[str, dict[str, str]]:
        """The key of the task's item, as Celery's own get/set spell it."""
        return {"id": {"S": str(self.get_key_for_task(task_id))}}

    def task_id_of(self, item_id: str) -> str:
        """The task id of an item's `id` (`item_key`'s inverse): Celery spells the key as
        the text of a bytes value, `b'celery-task-meta-<id>'`."""
        head, _, tail = str(self.get_key_for_task("\0")).partition("\\x00")
        if not (item_id.startswith(head) and item_id.endswith(tail)):
            raise ValueError(f"{item_id!r} is not a task item's id")
        return item_id[len(head) : len(item_id) - len(tail)]

    def state_meta(
        self,
        task_id: str,
        state: str,
        result: Any = None,
        *,
        traceback: str | None = None,
        request: Any = None,
    ) -> dict[str, Any]:
        """Celery's record of one state of the task (`result` already encoded)."""
        meta: dict[str, Any] = self._get_result_meta(
            result=result, state=state, traceback=traceback, request=request
        )
        meta["task_id"] = task_id
        return meta

    def state_attributes(self, meta: dict[str, Any]) -> dict[str, Any]:
        """The item's attributes for one state: its record (`record_attributes`) and the
        TTL."""
        now = time.time()
        return {
            **self.record_attributes(meta, now),
            "ttl": {"N": str(int(now + self.time_to_live_seconds))},
        }

    def record_attributes(self, meta: dict[str, Any], now: float) -> dict[str, Any]:
        """Celery's encoded record (what its `get` reads), the state in the clear for
        conditions and the list, its progress, and when (`now`)."""
        return {
            "result": {"B": large_results.encoded_record(self, meta)},
            STATE_ATTRIBUTE: {"S": meta["status"]},
            PROGRESS_ATTRIBUTE: progress_attribute(meta),
            "timestamp": {"N": str(now)},
        }

    def state_put(
        self, task_id: str, meta: dict[str, Any], *, client: str | None = None
    ) -> dict[str, Any]:
        """PutItem arguments that write the task's item afresh with one state (and the
        client that owns it)."""
        item = {**self.item_key(task_id), **self.state_attributes(meta)}
        if client is not None:
            item[CLIENT_ATTRIBUTE] = {"S": client}
        return {"TableName": self.table_name, "Item": item}

    def state_update(
        self, task_id: str, meta: dict[str, Any], *, unless: tuple[str, ...] = (states.SUCCESS,)
    ) -> dict[str, Any]:
        """UpdateItem arguments that store `meta` unless the task's state is one of `unless`
        (by default: unless it already succeeded); other attributes (the lease) stay."""
        attributes = self.state_attributes(meta)
        final = {f":final{index}": {"S": state} for index, state in enumerate(unless)}
        return {
            "TableName": self.table_name,
            "Key": self.item_key(task_id),
            "UpdateExpression": "SET " + ", ".join(f"#{name} = :{name}" for name in attributes),
            "ConditionExpression": (
                f"attribute_not_exists(#{STATE_ATTRIBUTE}) "
                f"OR NOT (#{STATE_ATTRIBUTE} IN ({', '.join(final)}))"
            ),
            "ExpressionAttributeNames": {f"#{name}": name for name in attributes},
            "ExpressionAttributeValues": {
                **{f":{name}": value for name, value in attributes.items()},
                **final,
            },
        }

    def ensure_chords_allowed(self) -> None:
        """Celery asks this before it sends a chord's first message: refused here
        (taskqueue.stores.chords says why)."""
        raise ChordsRefused()

    def _get_task_meta_for(self, task_id: str) -> Any:
        """Celery's read of a record (`AsyncResult.get()`), with a result stored in the payload
        bucket fetched back (taskqueue.stores.large_results)."""
        return large_results.resolved(self, super()._get_task_meta_for(task_id))

    def mark_as_failure(self, task_id: str, exc: BaseException, *args: Any, **kwargs: Any) -> Any:
        """Record a failure, unless `exc` is a Reject: Celery 5.7 records a message rejected
        without requeue as the task's FAILURE, but here that message comes back from SQS
        (taskqueue.runtime.run_once rejects a delivery while another run holds the task), so the
        run that holds it keeps its state."""
        if isinstance(exc, Reject):
            return None
        return super().mark_as_failure(task_id, exc, *args, **kwargs)

    def _store_result(
        self,
        task_id: str,
        result: Any,
        state: str,
        traceback: str | None = None,
        request: Any = None,
        **kwargs: Any,
    ) -> Any:
        meta = self.state_meta(task_id, state, result, traceback=traceback, request=request)
        # A failure recorded after the run recorded DEAD_LETTERED (Celery's own, for the same
        # exception) leaves DEAD_LETTERED: it says more.
        exception = state in states.EXCEPTION_STATES
        unless = (states.SUCCESS, DEAD_LETTERED) if exception else (states.SUCCESS,)
        try:
            self.client.update_item(**self.state_update(task_id, meta, unless=unless))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # A late duplicate after SUCCESS: the success stands (as in Celery's backend).
        return result


def table_backend(client: Any, table: str) -> ProvisionedTableBackend:
    """The backend's item reads and writes on `table` through `client`, for a process that
    configures no Celery app (the CLI's redrive); it writes no TTL."""
    backend = ProvisionedTableBackend(app=Celery(set_as_current=False), table_name=table)
    backend._client = client
    return backend


@dataclass(frozen=True)
class TaskStatus:
    """What GET /tasks/<id> shows of one task."""

    state: str
    progress: dict[str, int] | None
    result: Any
    error: str | None
    due: str | None = None
    reason: str | None = None
    task: str | None = None
    """The task's name, where its item records it (`mark_queued`, a schedule's claim)."""
    result_object: ResultObject | None = None
    """Where a SUCCESS's result is stored when its item could not hold it (`result` is None
    then): taskqueue.stores.large_results."""


def progress_attribute(meta: dict[str, Any]) -> dict[str, Any]:
    """The `progress` attribute of a state: a PROGRESS state's counts, else NULL."""
    info = meta.get("result")
    if meta["status"] != PROGRESS or not isinstance(info, dict):
        return {"NULL": True}
    counts = {name: info.get(name) for name in ("current", "total")}
    if not all(isinstance(count, int) and not isinstance(count, bool) for count in counts.values()):
        return {"NULL": True}  # a task's own progress shape: the state is stored all the same
    return {"M": {name: {"N": str(count)} for name, count in counts.items()}}


def mark_queued(
    celery: Celery,
    task_id: str,
    client: str | None = None,
    task: str | None = None,
    due: datetime | None = None,
    slot: bool = False,
    write: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Record the id as PENDING, owned by `client`, before it is sent, so only queued ids
    are known; SCHEDULED with its `due` time instead when it waits until then. With `task`
    (its name), it is in its client's task list from now on; with `slot`, it holds one of its
    client's waiting slots until it starts (taskqueue.stores.waiting). `write` sends the
    PutItem's arguments (a request with an Idempotency-Key's conditional write,
    taskqueue.stores.idempotency); by default a plain PutItem.

    One PutItem: `backend.store_result` would first read the (new, so absent) record. A
    scheduled record is kept for RESULT_EXPIRES after it is due, not after now.
    """
    backend = celery.backend
    if due is None:
        put = backend.state_put(task_id, backend.state_meta(task_id, states.PENDING), client=client)
    else:
        scheduled = backend.state_meta(task_id, SCHEDULED, {"due": rfc3339(due)})
        put = backend.state_put(task_id, scheduled, client=client)
        put["Item"]["ttl"] = {"N": str(int(due.timestamp() + backend.time_to_live_seconds))}
    if task is not None:
        put["Item"][TASK_ATTRIBUTE] = {"S": task}
        # The same clock reading as the record's timestamp: queued never after last updated.
        put["Item"][QUEUED_AT_ATTRIBUTE] = {"N": put["Item"]["timestamp"]["N"]}
    if slot:
        put["Item"][SLOT_ATTRIBUTE] = {"BOOL": True}
    if write is None:
        backend.client.put_item(**put)
    else:
        write(put)


def rfc3339(moment: datetime) -> str:
    """`moment` in UTC as RFC 3339, to the millisecond: 2026-12-01T18:00:00.250Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# What `mark_queued` wrote that a PutItem writing the item afresh must carry over: what keeps
# the task in its client's list, and its request's fingerprint (a repeat of its key is
# still known after a cancel).
CARRIED_ATTRIBUTES = (QUEUED_AT_ATTRIBUTE, TASK_ATTRIBUTE, FINGERPRINT_ATTRIBUTE)


def listed_attributes(celery: Celery, task_id: str) -> dict[str, Any]:
    """The `CARRIED_ATTRIBUTES` the task's item has (a consistent read)."""
    backend = celery.backend
    names = {f"#{name}": name for name in CARRIED_ATTRIBUTES}
    item = backend.client.get_item(
        TableName=backend.table_name,
        Key=backend.item_key(task_id),
        ProjectionExpression=", ".join(names),
        ExpressionAttributeNames=names,
        ConsistentRead=True,
    ).get("Item", {})
    return {name: item[name] for name in CARRIED_ATTRIBUTES if name in item}


def read_status(celery: Celery, task_id: str, *, client: str | None = None) -> TaskStatus | None:
    """The task's state, or None when the id was never queued (or has expired); with
    `client`, None too when another client queued it (the web's view: no way to tell)."""
    return read_status_in(celery.backend, task_id, client=client)


def read_status_in(
    backend: ProvisionedTableBackend, task_id: str, *, client: str | None = None
) -> TaskStatus | None:
    """`read_status` through a backend alone (the CLI's `table_backend`)."""
    item = backend.client.get_item(TableName=backend.table_name, Key=backend.item_key(task_id))
    item = item.get("Item")
    if item is None or "result" not in item:
        return None
    if client is not None and item.get(CLIENT_ATTRIBUTE, {}).get("S") != client:
        return None
    return named(status_of(backend.decode_result(item["result"]["B"])), item)


def named(status: TaskStatus, item: Mapping[str, Any]) -> TaskStatus:
    """`status` with the task's name, where its item records one (its queue follows)."""
    if TASK_ATTRIBUTE not in item:
        return status
    return replace(status, task=item[TASK_ATTRIBUTE]["S"])


def status_of(meta: dict[str, Any]) -> TaskStatus:
    """What GET /tasks/<id> shows of a decoded Celery record."""
    state, info = meta["status"], meta["result"]
    if state == PROGRESS and isinstance(info, dict):
        progress = {"current": int(info["current"]), "total": int(info["total"])}
        return TaskStatus(state=state, progress=progress, result=None, error=None)
    if state in states.EXCEPTION_STATES:
        error = f"{type(info).__name__}: {info}" if isinstance(info, BaseException) else str(info)
        return TaskStatus(state=state, progress=None, result=None, error=error)
    if state == SCHEDULED and isinstance(info, dict):
        return TaskStatus(
            state=state,
            progress=None,
            result=None,
            error=None,
            due=info["due"],
            reason=info.get("reason"),
        )
    if state == DEAD_LETTERED and isinstance(info, dict):
        return TaskStatus(
            state=state, progress=None, result=None, error=info.get("error"), reason=info["reason"]
        )
    result = info if state == states.SUCCESS else None
    stored = large_results.result_object(meta) if state == states.SUCCESS else None
    return TaskStatus(state=state, progress=None, result=result, error=None, result_object=stored)
