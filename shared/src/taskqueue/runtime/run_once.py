"""Effect once: a task delivered twice runs its body once.

SQS delivers at least once, and late acknowledgement redelivers a task whose worker died.
Before a task's body runs, the worker claims the task's item in the results table with
one conditional write, which also records the STARTED state (Celery's `task_track_started`
would cost a write of its own). The claim is a short lease that the visibility extension
renews while the task runs (taskqueue.runtime.visibility_extension), and that ends before the
message's visibility when it stops being renewed (a dead worker).
A second delivery of the same id finds the claim and is dropped (`Ignore`: acknowledged,
no state written) once the task succeeded. A delivery that finds a live lease (another
worker runs the task, or died running it a moment ago) is rejected without requeue: the
message stays in SQS and comes back after the visibility timeout, which outlasts the lease.
A cancel request on a running task (taskqueue.stores.cancellation) is read by the same renewal;
the stopped task is recorded REVOKED and its message acknowledged (`Ignore`).
A delivery after the lease expired, or after the body failed, takes the claim over and runs
the task again, so nothing is lost. A delivery of a task cancelled before any run claimed
it (REVOKED, taskqueue.stores.cancellation) is dropped too.
The claim numbers the runs and returns what the previous one left, so a lost worker is
counted apart from a failure, and the last delivery SQS allows records DEAD_LETTERED
(taskqueue.runtime.dead_letters).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from celery import Celery, states
from celery.exceptions import Ignore, SoftTimeLimitExceeded

from taskqueue.app_settings import settings_of
from taskqueue.runtime import chain_steps, dead_letters, rate_gate, soft_stop
from taskqueue.runtime.delivery_writes import refuse, unless_held, with_owner
from taskqueue.runtime.task_metrics import Outcome, mark_stopped
from taskqueue.runtime.visibility_extension import VisibilityExtension
from taskqueue.settings import Settings
from taskqueue.stores import waiting
from taskqueue.stores.cancellation import CANCEL_ATTRIBUTE, mark_revoked
from taskqueue.stores.results import SLOT_ATTRIBUTE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """A claim taken: this run's number, and the item as the run before left it."""

    attempt: int
    previous: dict[str, Any]


def claim(task: Any, lease_seconds: float) -> Claimed:
    """Take the task's id for this run as STARTED; Ignore when it succeeded, Reject while
    another run's lease holds."""
    backend = task.app.backend
    task_id = task.request.id
    started = backend.state_meta(
        task_id,
        states.STARTED,
        {"pid": os.getpid(), "hostname": task.request.hostname},
        request=task.request,
    )
    # Neither after SUCCESS nor after a cancellation (taskqueue.stores.cancellation).
    update = backend.state_update(task_id, started, unless=(states.SUCCESS, states.REVOKED))
    now = time.time()
    unless_held(update, now)
    update["UpdateExpression"] += (
        ", lease_until = :lease, #attempt = if_not_exists(#attempt, :none) + :one"
    )
    update["ExpressionAttributeNames"]["#attempt"] = dead_letters.ATTEMPT_ATTRIBUTE
    update["ExpressionAttributeValues"].update(
        {":lease": {"N": str(now + lease_seconds)}, ":none": {"N": "0"}, ":one": {"N": "1"}}
    )
    with_owner(update, task)
    # The task starts: it no longer waits, so it gives its client's slot back (once: the
    # mark goes with this write; taskqueue.stores.waiting).
    update["UpdateExpression"] += " REMOVE #slot"
    update["ExpressionAttributeNames"]["#slot"] = SLOT_ATTRIBUTE
    try:
        answer = backend.client.update_item(
            **update, ReturnValues="ALL_OLD", ReturnValuesOnConditionCheckFailure="ALL_OLD"
        )
    except ClientError as error:
        refuse(task, error)
    previous: dict[str, Any] = answer.get("Attributes") or {}
    waiting.release_held(backend.client, backend.table_name, previous, task_id)
    return Claimed(dead_letters.count(previous, dead_letters.ATTEMPT_ATTRIBUTE) + 1, previous)


def release(celery: Celery, task_id: str) -> None:
    """End a running claim's lease, so the next delivery may run the task again at once.

    Called after the body raised, and by the transport when it hands an unfinished
    message back (taskqueue.runtime.sqs_transport). An unclaimed task is left alone.
    """
    backend = celery.backend
    try:
        backend.client.update_item(
            TableName=backend.table_name,
            Key=backend.item_key(task_id),
            UpdateExpression="SET lease_until = :expired",
            ConditionExpression="attribute_exists(lease_until)",
            ExpressionAttributeValues={":expired": {"N": "0"}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def renew(celery: Celery, task_id: str, lease_seconds: float) -> bool:
    """Extend a running claim's lease by `lease_seconds` from now, unless a cancel was
    requested: then True (and the lease is left to run out)."""
    backend = celery.backend
    try:
        backend.client.update_item(
            TableName=backend.table_name,
            Key=backend.item_key(task_id),
            UpdateExpression="SET lease_until = :lease",
            ConditionExpression="attribute_exists(lease_until) AND attribute_not_exists(#cancel)",
            ExpressionAttributeNames={"#cancel": CANCEL_ATTRIBUTE},
            ExpressionAttributeValues={":lease": {"N": str(time.time() + lease_seconds)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        held: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
        return CANCEL_ATTRIBUTE in held
    return False


def lease_seconds(settings: Settings) -> float:
    """A claim's lease: it outlasts the time to the next renewal and ends before its
    message's (base) visibility timeout, so a redelivery after a crash finds it expired."""
    return (settings.visibility_heartbeat_interval + settings.queue_visibility_timeout) / 2


def run_once(task: Any, body: Callable[[], Any]) -> Any:
    """Run `body` under a claim on the task's id, with the visibility extension beside it,
    and on its turn if its task has a rate (taskqueue.runtime.rate_gate); see the module
    docstring."""
    task_id = task.request.id
    if task_id is None:  # called directly, not through a worker
        return body()
    settings = settings_of(task.app.flask_app)
    # Here, in the pool process, after billiard installed its own handler at the fork.
    soft_stop.install()
    lease = lease_seconds(settings)
    limited = rate_gate.wait_for_turn(task)
    claimed = claim(task, lease)
    if limited:
        rate_gate.count_start(task, lambda: release(task.app, task_id))
    delivery = dead_letters.account(task, claimed.attempt, claimed.previous, settings, lease)
    extension = VisibilityExtension(task, settings, lambda: renew(task.app, task_id, lease))
    extension.start()
    try:
        with soft_stop.stoppable():
            result = body()
    except BaseException as error:
        extension.stop()
        if extension.cancelled:
            mark_revoked(task.app, task_id)
            logger.warning("task %s was cancelled while it ran: stopped", task_id)
            chain_steps.revoke_later_steps(task)
            mark_stopped(task.request, Outcome.REVOKED)
            raise Ignore() from error
        end_failed_run(task.app, delivery, error)
        raise
    try:
        extension.stop()
    except SoftTimeLimitExceeded:  # a cancel's signal that came as the body returned
        logger.info("task %s finished before its cancel could stop it", task_id)
    return result


def end_failed_run(celery: Celery, delivery: dead_letters.Delivery, error: BaseException) -> None:
    """The body raised: on the last delivery a failure records DEAD_LETTERED; otherwise (or
    if that cannot be written: the watch records it then) the lease ends, so the next
    delivery runs the task again at once."""
    if delivery.last and dead_letters.is_failure(error):
        try:
            dead_letters.record_failure(celery, delivery, error)
            return
        except Exception:
            logger.warning("could not record task %s dead-lettered", delivery.task_id)
    release(celery, delivery.task_id)
