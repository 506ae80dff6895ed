"""Dead-lettered tasks: a state that says so, and a lost worker counted apart from a failure.

SQS moves a message to the dead-letter queue at the receive after its MAX_RECEIVE_COUNT-th,
and counts every receive alike: a worker killed mid-task (Spot, OOM, a deploy) spends the
budget as a task that raises does, and nothing recorded the move, so a task whose last
delivery lost its worker said PROGRESS for ever. Here:

- **Counted apart.** The claim (taskqueue.runtime.run_once) returns what the previous attempt left
  and numbers the runs (`attempt`). STARTED or PROGRESS there is a *lost* attempt (its
  worker died or handed the message back: nothing recorded an end, and the claim could only
  take over because its lease had expired), FAILURE a *failed* one. The item counts both
  (`losses`, `failures`), with one more UpdateItem only after such an attempt.
- **A lost worker gives the budget back.** The delivery SQS counts as the last
  (ApproximateReceiveCount >= MAX_RECEIVE_COUNT) that finds its previous attempt lost does
  not run: it sends the same body again as a new message (SQS counts its receives from
  zero), records PENDING and is acknowledged. Only while the task has lost fewer than
  MAX_RECEIVE_COUNT workers: a task that kills its worker every time (`crash`) still ends
  dead-lettered, after 2 * MAX_RECEIVE_COUNT - 1 runs. A failure never gives anything back.
- **The last delivery records its end.** A body that raises on it records DEAD_LETTERED
  ("failed N times", or "time limit" for a soft time limit) before SQS moves the message.
- **A bounded path when it cannot.** A worker lost on the last delivery records nothing, nor
  does a pool process a hard time limit killed. So the claim of the last delivery also sends
  a *watch*: a small message to the task queue, delayed until the claim's lease would end.
  A worker that receives it (taskqueue.runtime.sqs_transport, before Celery sees it) reads the item:
  a later attempt or a final state drops it; a live lease sends it again, delayed until the
  lease ends; otherwise the attempt ended without an outcome, and the watch records
  DEAD_LETTERED: "worker lost N times", or, after the FAILURE a hard time limit left,
  "time limit". So the state says so within about one lease (40 s by default) of the loss,
  with nothing on the web's path and no scan; it costs a send, a receive, a delete and a
  GetItem per lease while a task runs its last delivery, and nothing on the others.
- **A receive no claim saw.** A dead worker's lingering long poll can take the last receive
  before any claim: taskqueue.runtime.dead_letter_sweep finds such a task in the DLQ and records it.
- **A redrive puts it back.** `taskqueue dlq redrive` records PENDING for each task it moves
  back (`requeue`, only from DEAD_LETTERED); a claim that takes over DEAD_LETTERED (a
  message moved back some other way) starts the counts again too.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from celery import Celery, states
from celery.exceptions import Ignore, Reject, Retry, SoftTimeLimitExceeded, TimeLimitExceeded

from taskqueue.runtime.message_group import CLIENT_HEADER, group_arguments
from taskqueue.runtime.visibility_extension import receipt, sqs_client
from taskqueue.settings import SQS_MAX_DELAY_SECONDS, Settings
from taskqueue.stores.results import DEAD_LETTERED, PROGRESS, STATE_ATTRIBUTE, status_of

logger = logging.getLogger(__name__)

# The item's count of claimed runs (taskqueue.runtime.run_once), which a watch names; and its
# counts of lost and failed runs since the task was queued (or redriven).
ATTEMPT_ATTRIBUTE = "attempt"
LOSSES_ATTRIBUTE = "losses"
FAILURES_ATTRIBUTE = "failures"
# The one key of a watch message's JSON body: {"dead_letter_watch": {"id", "attempt"}}.
WATCH_KEY = "dead_letter_watch"
WATCH_PREFIX = f'{{"{WATCH_KEY}"'
TIME_LIMIT = "time limit"
# An attempt in one of these states when its lease has ended recorded no end of its own.
RUNNING_STATES = (states.STARTED, PROGRESS)
# Exceptions that end a run without a failure: Celery's own control flow.
NOT_FAILURES = (Retry, Ignore, Reject)
TIME_LIMIT_ERRORS = (SoftTimeLimitExceeded, TimeLimitExceeded)


def lost_reason(times: int) -> str:
    """The reason of a task dead-lettered after losing its worker `times` times."""
    return f"worker lost {times} time{'s' if times != 1 else ''}"


def failed_reason(times: int) -> str:
    """The reason of a task dead-lettered after failing `times` times."""
    return f"failed {times} time{'s' if times != 1 else ''}"


class Previous(StrEnum):
    """How the attempt before this one ended, as its claim found the item."""

    LOST = "lost"
    FAILED = "failed"
    REDRIVEN = "redriven"


@dataclass(frozen=True)
class Delivery:
    """One claimed delivery: its run's number, whether SQS counts it as the last, and the
    task's lost and failed runs before it."""

    task_id: str
    attempt: int
    last: bool
    losses: int
    failures: int


def sqs_message(request: Any) -> dict[str, Any]:
    """The SQS message of the delivery, as kombu's transport passes it in the request's
    properties; empty when it did not come from SQS."""
    properties = getattr(request, "properties", None) or {}
    message: dict[str, Any] = (properties.get("delivery_info") or {}).get("sqs_message") or {}
    return message


def receive_count(request: Any) -> int | None:
    """SQS's ApproximateReceiveCount of the delivery (kombu asks for it on every receive);
    None when it did not come from SQS."""
    count = (sqs_message(request).get("Attributes") or {}).get("ApproximateReceiveCount")
    return None if count is None else int(count)


def previous_outcome(item: dict[str, Any]) -> Previous | None:
    """What the item a claim took over says of the attempt before (None: there was none,
    or it ended as a retry or a cancel)."""
    state = item.get(STATE_ATTRIBUTE, {}).get("S")
    if state in RUNNING_STATES:
        return Previous.LOST
    if state == states.FAILURE:
        return Previous.FAILED
    if state == DEAD_LETTERED:
        return Previous.REDRIVEN
    return None


def count(item: dict[str, Any], name: str) -> int:
    """One of the item's counts (0 when it has none)."""
    return int(item.get(name, {}).get("N", "0"))


def account(
    task: Any, attempt: int, previous: dict[str, Any], settings: Settings, lease: float
) -> Delivery:
    """After the claim: count how the previous attempt ended; on the last delivery, give a
    lost worker's receive back (Ignore: the message was sent again) or send the watch, due
    when this run's `lease` would end."""
    outcome = previous_outcome(previous)
    fresh = outcome is Previous.REDRIVEN
    losses = 0 if fresh else count(previous, LOSSES_ATTRIBUTE) + (outcome is Previous.LOST)
    failures = 0 if fresh else count(previous, FAILURES_ATTRIBUTE) + (outcome is Previous.FAILED)
    received = receive_count(task.request)
    last = received is not None and received >= settings.max_receive_count
    delivery = Delivery(task.request.id, attempt, last, losses, failures)
    refund = last and outcome is Previous.LOST and losses < settings.max_receive_count
    if refund and send_again(task, settings):
        logger.warning(
            "task %s lost its worker (%d so far) before its last delivery: sent again",
            delivery.task_id,
            losses,
        )
        # Unwritten, the copy waits for this claim's lease, then counts this run as lost.
        write_or_log(task.app, delivery, pending=True)
        raise Ignore()
    if outcome is not None:
        write_or_log(task.app, delivery)
    if last:
        send_watch(task, delivery, settings, lease)
    return delivery


def write(celery: Celery, delivery: Delivery, *, pending: bool = False) -> None:
    """Store the delivery's counts on the item while its run holds it; with `pending`, also
    PENDING with the lease ended (the task waits for the message sent again)."""
    backend = celery.backend
    counts = {LOSSES_ATTRIBUTE: delivery.losses, FAILURES_ATTRIBUTE: delivery.failures}
    if pending:
        meta = backend.state_meta(delivery.task_id, states.PENDING)
        update = backend.state_update(delivery.task_id, meta)
        update["UpdateExpression"] += ", lease_until = :expired"
        update["ExpressionAttributeValues"][":expired"] = {"N": "0"}
    else:
        update = {"TableName": backend.table_name, "Key": backend.item_key(delivery.task_id)}
    backend.client.update_item(**held_by(update, delivery.attempt, counts))


def write_or_log(celery: Celery, delivery: Delivery, *, pending: bool = False) -> None:
    """`write`, logged instead of raised: the counts only shape a later decision, so the run
    goes on without them."""
    try:
        write(celery, delivery, pending=pending)
    except Exception:
        logger.warning("could not count the runs of task %s", delivery.task_id, exc_info=True)


def held_by(update: dict[str, Any], attempt: int, counts: dict[str, int]) -> dict[str, Any]:
    """UpdateItem arguments: `update`'s, also setting `counts`, on condition that the run
    `attempt` still holds the item."""
    names = update.setdefault("ExpressionAttributeNames", {})
    values = update.setdefault("ExpressionAttributeValues", {})
    sets = [f"#count{index} = :count{index}" for index in range(len(counts))]
    for index, (name, value) in enumerate(counts.items()):
        names[f"#count{index}"] = name
        values[f":count{index}"] = {"N": str(value)}
    if "UpdateExpression" not in update:
        update["UpdateExpression"] = f"SET {', '.join(sets)}"
    elif sets:
        update["UpdateExpression"] += f", {', '.join(sets)}"
    names["#attempt"] = ATTEMPT_ATTRIBUTE
    values[":attempt"] = {"N": str(attempt)}
    condition = update.get("ConditionExpression")
    update["ConditionExpression"] = (
        f"({condition}) AND #attempt = :attempt" if condition else "#attempt = :attempt"
    )
    return update


def send_again(task: Any, settings: Settings) -> bool:
    """Send the received message's body again as a new message, delayed a second so that
    the PENDING record is written first; False (logged) when it cannot be sent."""
    message = sqs_message(task.request)
    where = receipt(task.request)
    if "Body" not in message or where is None:
        return False
    try:
        sqs_client(settings).send_message(
            QueueUrl=where[0],
            MessageBody=message["Body"],
            DelaySeconds=1,
            **group_arguments(getattr(task.request, CLIENT_HEADER, None)),
        )
    except Exception:
        logger.warning("could not send task %s again: it runs here", task.request.id)
        return False
    return True


def watch_body(task_id: str, attempt: int) -> str:
    """The body of a watch on the task's run `attempt`."""
    return json.dumps({WATCH_KEY: {"id": task_id, "attempt": attempt}})


def watched(body: str) -> tuple[str, int] | None:
    """The (task id, attempt) a received message's body watches; None for any other message
    (a task's body never starts as a watch's does: kombu writes a JSON envelope or base64)."""
    if not body.startswith(WATCH_PREFIX):
        return None
    try:
        watch = json.loads(body)[WATCH_KEY]
        task_id, attempt = watch["id"], watch["attempt"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(task_id, str) or not isinstance(attempt, int):
        return None
    return task_id, attempt


def watch_delay(seconds: float) -> int:
    """DelaySeconds for a watch due in `seconds`: a second past it, at most SQS's 900."""
    return min(SQS_MAX_DELAY_SECONDS, max(1, math.ceil(seconds) + 1))


def send_watch(task: Any, delivery: Delivery, settings: Settings, lease: float) -> None:
    """Send the watch on this last delivery's run, due when its `lease` would end."""
    where = receipt(task.request)
    if where is None:
        return
    try:
        sqs_client(settings).send_message(
            QueueUrl=where[0],
            MessageBody=watch_body(delivery.task_id, delivery.attempt),
            DelaySeconds=watch_delay(lease),
        )
    except Exception:
        # Only a lost worker goes unrecorded then: a failure here records its own end.
        logger.warning("could not send the watch of task %s's last delivery", delivery.task_id)


def is_failure(error: BaseException) -> bool:
    """The body's exception fails the run (Celery records FAILURE), as opposed to a retry,
    an Ignore or a Reject, or the process stopping."""
    return isinstance(error, Exception) and not isinstance(error, NOT_FAILURES)


def record_failure(celery: Celery, delivery: Delivery, error: BaseException) -> None:
    """The last delivery's body raised: record DEAD_LETTERED before SQS moves its message."""
    failures = delivery.failures + 1
    time_limit = isinstance(error, TIME_LIMIT_ERRORS)
    reason = TIME_LIMIT if time_limit else failed_reason(failures)
    record(
        celery.backend,
        delivery.task_id,
        delivery.attempt,
        reason,
        f"{type(error).__name__}: {error}",
        {FAILURES_ATTRIBUTE: failures},
    )
    logger.warning("task %s dead-lettered: %s", delivery.task_id, reason)


def record(
    backend: Any,
    task_id: str,
    attempt: int,
    reason: str,
    error: str | None,
    counts: dict[str, int],
    seen_state: str | None = None,
) -> bool:
    """Record the run `attempt` of the task DEAD_LETTERED with `reason`, its lease ended and
    `counts` stored, unless another run claimed it since (or, with `seen_state`, its state
    changed); True when it was recorded."""
    meta = backend.state_meta(task_id, DEAD_LETTERED, {"reason": reason, "error": error})
    update = backend.state_update(task_id, meta, unless=(states.SUCCESS, states.REVOKED))
    update["UpdateExpression"] += ", lease_until = :expired"
    update["ExpressionAttributeValues"][":expired"] = {"N": "0"}
    if seen_state is not None:
        update["ConditionExpression"] += f" AND #{STATE_ATTRIBUTE} = :seen"
        update["ExpressionAttributeValues"][":seen"] = {"S": seen_state}
    held_by(update, attempt, counts)
    return conditional(backend, update)


def check(celery: Celery, task_id: str, attempt: int, now: float) -> float | None:
    """A watch on the task's run `attempt` is due: record DEAD_LETTERED if that run ended
    without an outcome; seconds until its lease ends while it still runs; else None."""
    item = read_item(celery.backend, task_id)
    if count(item, ATTEMPT_ATTRIBUTE) != attempt:
        return None  # a later run took over
    return settle(celery.backend, task_id, item, now).lease_left


def read_item(backend: Any, task_id: str) -> dict[str, Any]:
    """The task's item as it is now (a consistent read); empty when there is none."""
    item: dict[str, Any] = (
        backend.client.get_item(
            TableName=backend.table_name, Key=backend.item_key(task_id), ConsistentRead=True
        ).get("Item")
        or {}
    )
    return item


@dataclass(frozen=True)
class Settled:
    """What `settle` found: seconds left on a live lease, or the reason it recorded."""

    lease_left: float | None = None
    reason: str | None = None


def settle(backend: Any, task_id: str, item: dict[str, Any], now: float) -> Settled:
    """The task's last run, as `item` shows it, is over and recorded no end (its message is
    gone to the dead-letter queue, or will be): record DEAD_LETTERED with the reason. Nothing
    while its lease is live, or when it recorded its end (or another run took over)."""
    state = item.get(STATE_ATTRIBUTE, {}).get("S")
    if state not in (*RUNNING_STATES, states.FAILURE):
        return Settled()
    lease_until = float(item.get("lease_until", {}).get("N", "0"))
    if lease_until > now:
        return Settled(lease_left=lease_until - now)
    if state == states.FAILURE:  # what the main process recorded after a hard time limit
        failed = backend.decode_result(item["result"]["B"])
        failures = count(item, FAILURES_ATTRIBUTE) + 1
        time_limit = isinstance(failed["result"], TIME_LIMIT_ERRORS)
        reason = TIME_LIMIT if time_limit else failed_reason(failures)
        error, counts = status_of(failed).error, {FAILURES_ATTRIBUTE: failures}
    else:
        losses = count(item, LOSSES_ATTRIBUTE) + 1
        reason, error, counts = lost_reason(losses), None, {LOSSES_ATTRIBUTE: losses}
    attempt = count(item, ATTEMPT_ATTRIBUTE)
    if not record(backend, task_id, attempt, reason, error, counts, seen_state=state):
        return Settled()
    logger.warning("task %s dead-lettered: %s", task_id, reason)
    return Settled(reason=reason)


def requeue(backend: Any, task_id: str, now: float | None = None) -> bool:
    """A redriven task's record: PENDING again with its counts cleared, only if it is
    DEAD_LETTERED (a worker may have taken it already); True when it was."""
    meta = backend.state_meta(task_id, states.PENDING)
    attributes = backend.record_attributes(meta, now=now or time.time())
    names = {f"#{name}": name for name in attributes}
    names.update({"#losses": LOSSES_ATTRIBUTE, "#failures": FAILURES_ATTRIBUTE})
    return conditional(
        backend,
        {
            "TableName": backend.table_name,
            "Key": backend.item_key(task_id),
            "UpdateExpression": "SET "
            + ", ".join(f"#{name} = :{name}" for name in attributes)
            + " REMOVE #losses, #failures",
            "ConditionExpression": f"#{STATE_ATTRIBUTE} = :dead",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                **{f":{name}": value for name, value in attributes.items()},
                ":dead": {"S": DEAD_LETTERED},
            },
        },
    )


def conditional(backend: Any, update: dict[str, Any]) -> bool:
    """Send a conditional UpdateItem; False when its condition did not hold."""
    try:
        backend.client.update_item(**update)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True
