"""Celery's chains and groups on this stack: a step's parameters, its owner, a cancel.

Celery sends a chain's next step from the worker that ran the step before it, once that
step's body returned and before its SUCCESS is stored (celery.app.trace), with the id each
step got when the chain was applied: a step sent twice (a worker lost after the send) is one
task id, which the run-once guard (taskqueue.runtime.run_once) runs once.

- **Parameters.** The next step receives the previous step's result as a positional
  argument, but a task here takes keyword parameters its model validates
  (taskqueue.catalogue.registry). So a step given one positional argument takes from that
  result, when it is a JSON object, the fields of its model it was not given itself, and the
  model validates the whole in the worker; a result it cannot use fails the step with
  `StepParamsError`, naming the fields. An immutable step (`.si()`) receives nothing.
- **Owner.** A message sent while a task runs (a chain's next step, a group's members, a
  task's own `.delay()`) names that task's client unless it names its own, so each step is
  its client's in GET /tasks/<id>, the task list, DELETE and SQS fair queues.
- **One queue.** Each next step is sent by a worker of the step before it, and a worker's
  role may send only to its own queue (infra/stack.py), so on AWS a step on another queue
  would be denied after the step before it ran. A chain whose steps are not all on its first
  step's queue is refused where it is applied (`CrossQueueChain`), before anything is sent.
- **Cancel.** A step cancelled (dropped before it started, or stopped while it ran) ends its
  chain there: Celery sends a next step only after a step succeeded. The steps after it are
  recorded REVOKED ("cancelled with its chain"), owned by the same client, so every id of the
  chain ends in a state instead of staying unknown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from botocore.exceptions import ClientError
from celery import states
from celery._state import get_current_task
from celery.exceptions import TaskRevokedError
from pydantic import ValidationError

from taskqueue.app_settings import settings_of
from taskqueue.catalogue.registry import TASKS
from taskqueue.runtime.message_group import CLIENT_HEADER
from taskqueue.runtime.owner import add_owner

logger = logging.getLogger(__name__)

CANCELLED_WITH_CHAIN = "cancelled with its chain"
# Celery's serialized canvas types whose members are in kwargs["tasks"].
_NESTED = ("group", "chain")


class StepParamsError(ValueError):
    """A chain's step cannot take its parameters from the previous step's result."""


class CrossQueueChain(ValueError):
    """A chain's steps are not all on one queue: nothing was sent."""


def require_one_queue(name: str, chain: list[Mapping[str, Any]] | None) -> None:
    """CrossQueueChain unless every later step of the chain `name` starts (its `chain`
    option, as Celery sends it) is on `name`'s queue."""
    spec = TASKS.get(name)
    if spec is None or not chain:
        return
    for step_id, step_name in later_steps(chain):
        step = TASKS.get(step_name)
        if step is not None and step.queue != spec.queue:
            raise CrossQueueChain(
                f"a chain's steps must all be on one queue: {step_name} ({step_id}) is on queue"
                f" {step.queue!r} but the chain starts with {name} on {spec.queue!r}, and each"
                " next step is sent by a worker of the step before it, which may send only to"
                " its own queue"
            )


def inherit_client(headers: MutableMapping[str, Any] | None = None, **_: Any) -> None:
    """`before_task_publish` receiver: a message sent while a task runs names that task's
    client, unless it names one itself."""
    if headers is None or headers.get(CLIENT_HEADER):
        return
    running = get_current_task()
    client = getattr(running.request, CLIENT_HEADER, None) if running is not None else None
    if isinstance(client, str) and client:
        headers[CLIENT_HEADER] = client


def step_arguments(
    task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments of a run: as sent, or, for a worker's run given the previous step's
    result (`args`), no positional ones and its model's fields taken from that result where
    `kwargs` lacks them, validated; StepParamsError when they do not validate. A task called
    directly (no worker) keeps its arguments."""
    spec = TASKS.get(task.name)
    if not args or spec is None or getattr(task.request, "called_directly", True):
        return args, kwargs
    if len(args) != 1:
        raise StepParamsError(
            f"{task.name} takes keyword parameters; it was given {len(args)} positional ones"
        )
    previous = args[0]
    taken = {
        name: previous[name]
        for name in spec.params.model_fields
        if isinstance(previous, dict) and name in previous and name not in kwargs
    }
    settings = settings_of(task.app.flask_app)
    try:
        params = spec.params.model_validate({**taken, **kwargs}, context={"settings": settings})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or 'params'}: {detail['msg']}"
            for detail in error.errors()
        )
        raise StepParamsError(
            f"{task.name}'s parameters, its own and those taken from the previous step's"
            f" result ({type(previous).__name__}), do not validate: {problems}"
        ) from None
    return (), params.model_dump()


def later_steps(chain: list[Mapping[str, Any]] | None) -> Iterator[tuple[str, str]]:
    """(id, task name) of every step after the current one, in order: Celery keeps the
    chain's rest in the request reversed (the next step last), each with its given id."""
    for step in reversed(chain or []):
        yield from _members(step)


def _members(signature: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    if signature.get("subtask_type") in _NESTED:
        for member in (signature.get("kwargs") or {}).get("tasks") or []:
            yield from _members(member)
        return
    task_id = (signature.get("options") or {}).get("task_id")
    if isinstance(task_id, str) and task_id:
        yield task_id, str(signature.get("task"))


def revoke_later_steps(task: Any) -> None:
    """The running step was cancelled: record each later step of its chain REVOKED, owned by
    its client (one UpdateItem each; a failure is logged, the cancel stands)."""
    steps = list(later_steps(getattr(task.request, "chain", None)))
    if not steps:
        return
    backend = task.app.backend
    client = getattr(task.request, CLIENT_HEADER, None)
    revoked = backend.encode_result(TaskRevokedError(CANCELLED_WITH_CHAIN), states.REVOKED)
    for step_id, name in steps:
        update = backend.state_update(step_id, backend.state_meta(step_id, states.REVOKED, revoked))
        if isinstance(client, str) and client:
            update["ExpressionAttributeValues"][":now"] = {"N": str(time.time())}
            add_owner(update, client, name)
        try:
            backend.client.update_item(**update)
        except ClientError:
            logger.warning("could not record step %s of a cancelled chain revoked", step_id)
    logger.info(
        "task %s was cancelled: %d later step(s) of its chain revoked", task.request.id, len(steps)
    )
