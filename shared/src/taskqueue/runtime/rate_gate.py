"""A rate-limited task waits for its turn in SQS, never in a pool slot.

A task registered with `rate_limit` (taskqueue.catalogue.rates) passes this gate in its pool
process, around the claim (taskqueue.runtime.run_once), against its rate item in the results
table (taskqueue.stores.rate_limits), which holds two GCRA times:

- **Turns** (before the claim) schedule the waiting tasks. A delivery whose turn has come
  (the `TURN_HEADER` a previous delivery was sent back with) goes on without asking. Any
  other takes a turn (one UpdateItem): a turn of now goes on; a later one is recorded
  (SCHEDULED, reason "rate limited", due the turn), the message is sent again with the turn
  as its eta (the delay path, taskqueue.catalogue.delays: it waits in SQS) and the delivery
  ends acknowledged (`Ignore`), its slot free at once. The turns go to the waiting tasks in
  the order they asked, each comes back once, and within the second (Celery's timer).
- **Starts** (after the claim, just before the body) bound what runs: each start is counted
  (one UpdateItem) against a bucket of burst + 1, which a late start on its turn still fits;
  a start that does not fit releases the claim and is sent back for a new turn. So the
  bound holds however late a delivery reaches a pool slot: at most count + burst starts in
  any window of one unit (`rate_limit="5/s", rate_burst=1`: 6 in any second).

- **Before the claim.** A waiting delivery writes no STARTED, takes no lease and counts no
  attempt (taskqueue.runtime.dead_letters), so a wait is not a run; the copy is a new
  message, whose receives SQS counts from zero, so waiting never brings a task closer to the
  dead-letter queue. The record is written with the claim's condition
  (taskqueue.runtime.delivery_writes): a delivery of a task that succeeded, was cancelled or
  runs elsewhere is dropped or rejected as the claim would, and is not sent back.
- **Once.** The copy is sent before the delivery is acknowledged: a worker lost in between
  leaves two messages, and the claim runs the task once. A send that fails rejects the
  delivery: it comes back after the visibility timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

from botocore.exceptions import ClientError
from celery import states
from celery.exceptions import Ignore, Reject

from taskqueue.catalogue.delays import TURN_HEADER
from taskqueue.catalogue.rates import Rate
from taskqueue.catalogue.registry import TASKS
from taskqueue.runtime.delivery_writes import refuse, unless_held, with_owner
from taskqueue.stores.rate_limits import Pace, take_start, take_turn
from taskqueue.stores.results import RATE_LIMITED, SCHEDULED, rfc3339

logger = logging.getLogger(__name__)

# A turn reached this much before its time has come: Celery's timer and the hosts' clocks
# are that close. (An early start is no risk to the bound: the starts are counted.)
EARLY_TOLERANCE_SECONDS = 0.01

# Per task, when this process expects the next free turn and start: hints only
# (`take_turn`'s and `take_start`'s `busy`), which save a request when the rate is busy.
_next_turn: dict[str, float] = {}
_next_start: dict[str, float] = {}


def wait_for_turn(task: Any) -> bool:
    """Before the claim: whether the task has a rate (False: the gate has nothing to do);
    when it is not its turn, send it back for a later one and end the delivery (Ignore),
    or drop or reject it as the claim would."""
    rate = _rate_of(task)
    if rate is None:
        return False
    now = time.time()
    if has_come(getattr(task.request, TURN_HEADER, None), now):
        return True
    turn = take(task, rate.pace, now)
    if turn > now:
        send_back(task, turn, now)
    return True


def count_start(task: Any, release: Callable[[], None]) -> None:
    """After the claim: count this start; when the rate's starts are used up, `release`
    the claim and send the delivery back for a new turn (Ignore)."""
    rate = _rate_of(task)
    if rate is None:
        return
    pace, now, backend = rate.pace, time.time(), task.app.backend
    busy = _next_start.get(task.name, 0.0) > now
    if take_start(backend.client, backend.table_name, task.name, pace, now, busy=busy):
        _next_start[task.name] = max(_next_start.get(task.name, 0.0), now) + pace.interval
        return
    _next_start[task.name] = now + pace.interval
    logger.info("task %s found its rate's starts used up: takes another turn", task.request.id)
    turn = max(take(task, pace, now), now + pace.interval)
    release()
    send_back(task, turn, now)


def _rate_of(task: Any) -> Rate | None:
    """The rate of the delivered task (None: none, or not a delivery)."""
    spec = TASKS.get(getattr(task, "name", ""))
    return None if task.request.id is None or spec is None else spec.rate


def has_come(turn: Any, now: float) -> bool:
    """A delivery that carries `turn` (its header, if any) is on it, or late for it."""
    if not isinstance(turn, int | float) or isinstance(turn, bool):
        return False
    return turn - EARLY_TOLERANCE_SECONDS <= now


def take(task: Any, pace: Pace, now: float) -> float:
    """A turn from the task's rate item (one UpdateItem, now and then two)."""
    backend = task.app.backend
    busy = _next_turn.get(task.name, 0.0) > now
    turn = take_turn(backend.client, backend.table_name, task.name, pace, now, busy=busy)
    _next_turn[task.name] = turn + pace.interval
    return turn


def send_back(task: Any, turn: float, now: float) -> NoReturn:
    """Record the wait, send the delivery back for `turn` and end it (Ignore)."""
    record_waiting(task, turn)
    try:
        send_for_turn(task, turn)
    except Exception as error:
        logger.warning("could not send task %s back for its turn", task.request.id, exc_info=True)
        raise Reject("not sent back for its turn", requeue=False) from error
    logger.info(
        "task %s is over its rate: sent back for its turn in %.2f s", task.request.id, turn - now
    )
    raise Ignore()


def record_waiting(task: Any, turn: float) -> None:
    """Record the task SCHEDULED until `turn`, "rate limited", unless it succeeded, was
    cancelled or runs elsewhere (then `refuse`); its record is kept RESULT_EXPIRES after
    the turn."""
    backend = task.app.backend
    task_id = task.request.id
    waiting = {"due": rfc3339(datetime.fromtimestamp(turn, UTC)), "reason": RATE_LIMITED}
    meta = backend.state_meta(task_id, SCHEDULED, waiting, request=task.request)
    update = backend.state_update(task_id, meta, unless=(states.SUCCESS, states.REVOKED))
    update["ExpressionAttributeValues"][":ttl"] = {
        "N": str(int(turn + backend.time_to_live_seconds))
    }
    unless_held(update, time.time())
    with_owner(update, task)
    try:
        backend.client.update_item(**update, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as error:
        refuse(task, error)


def send_for_turn(task: Any, turn: float) -> None:
    """Send the delivery's message again, due at `turn` and carrying it: the same id,
    arguments, headers and retries (what Celery's own retry copies)."""
    request = task.request
    headers = {**(request.headers or {}), TURN_HEADER: turn}
    eta = datetime.fromtimestamp(turn, UTC)
    task.signature_from_request(request, eta=eta, headers=headers).apply_async()
