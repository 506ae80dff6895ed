"""The conditions every write of a delivery's record shares (the claim, a rate wait).

A delivery may write its task's record only while no run holds the task's lease (another
worker runs it); a scheduled fire's first write names its owner; and a write whose
condition failed ends the delivery as the claim always has: dropped after SUCCESS or a
cancel, rejected (back after the visibility timeout) while another run holds the lease.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from botocore.exceptions import ClientError
from celery import states
from celery.exceptions import Ignore, Reject

from taskqueue.runtime.chain_steps import revoke_later_steps
from taskqueue.runtime.owner import add_owner
from taskqueue.runtime.task_metrics import Outcome, mark_dropped
from taskqueue.stores.results import CLIENT_ATTRIBUTE, STATE_ATTRIBUTE

logger = logging.getLogger(__name__)


def unless_held(update: dict[str, Any], now: float) -> None:
    """Add to a state update (`state_update`) the condition that no run holds the task's
    lease at `now`."""
    update["ConditionExpression"] = (
        f"({update['ConditionExpression']}) "
        "AND (attribute_not_exists(lease_until) OR lease_until < :now)"
    )
    update["ExpressionAttributeValues"][":now"] = {"N": str(now)}


def with_owner(update: dict[str, Any], task: Any) -> None:
    """Add to a state update at `:now` (`unless_held`) the owner of a scheduled fire.

    A scheduled fire has no item before its first write (the web's mark_queued never ran):
    its message names the owner (taskqueue.catalogue.schedules), which a queued task's item
    already has, and the fire joins its owner's task list (taskqueue.stores.task_list) from
    then on.
    """
    client = getattr(task.request, CLIENT_ATTRIBUTE, None)
    if isinstance(client, str) and client:
        add_owner(update, client, task.name)


def refuse(task: Any, error: ClientError) -> NoReturn:
    """A write `unless_held` failed: drop the delivery (Ignore) after SUCCESS or a cancel,
    else reject it (another run holds the lease: back after the visibility timeout)."""
    if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
        raise error
    task_id = task.request.id
    held: dict[str, Any] = error.response.get("Item", {})  # type: ignore[assignment]
    held_state = held.get(STATE_ATTRIBUTE, {}).get("S")
    if held_state == states.SUCCESS:
        logger.warning("task %s was delivered again after it finished: dropped", task_id)
        mark_dropped(task.request, Outcome.DUPLICATE)
        raise Ignore() from error
    if held_state == states.REVOKED:
        logger.warning("task %s was cancelled before it started: dropped", task_id)
        mark_dropped(task.request, Outcome.REVOKED)
        revoke_later_steps(task)
        raise Ignore() from error
    logger.warning("task %s is claimed by another run: back after the visibility timeout", task_id)
    raise Reject("claimed by another run", requeue=False) from error
