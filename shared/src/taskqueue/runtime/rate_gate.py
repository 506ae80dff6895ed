"""A rate-limited task waits for its turn in SQS, never in a pool slot.

A task registered with `rate_limit` (taskqueue.catalogue.rates) passes this gate in its pool
process, around the claim (taskqueue.runtime.run_once). A delivery that carries its turn (the
`TURN_HEADER` a previous delivery was sent back with) and reaches the gate on it starts
without asking the table. Any other takes a turn from the task's rate item
(taskqueue.stores.rate_limits, one UpdateItem): a turn of now starts at once; a later one is
recorded (SCHEDULED, reason "rate limited", due the turn), sent back as a copy of the message
with the turn as its eta (the delay path, taskqueue.catalogue.delays: it waits in SQS), and
the delivery ends acknowledged (`Ignore`), its slot free at once.

- **Before the claim.** A waiting delivery writes no STARTED, takes no lease and counts no
  attempt (taskqueue.runtime.dead_letters), so a wait is not a run; the copy is a new
  message, whose receives SQS counts from zero, so waiting never brings a task closer to the
  dead-letter queue. The record is written with the claim's condition
  (taskqueue.runtime.delivery_writes): a delivery of a task that succeeded, was cancelled or
  runs elsewhere is dropped or rejected as the claim would, and is not sent back.
- **Checked again after the claim**, which is a request of its own: the body starts a few
  milliseconds after that check. A turn missed meanwhile is replaced by a new one; if that
  is not now, the claim's lease is released and the delivery sent back.
- **The bound.** A turn counts from `EARLY_TOLERANCE_SECONDS` before it to half an interval
  after it; a delivery later than that takes a new turn. So the starts of any window are
  turns spaced by GCRA that fall within less than one interval of it: with
  `rate_limit="5/s", rate_burst=1`, at most 5 + 1 starts in any second. A start's lateness
  matters against the interval: at rates above about 20/s (50 ms) turns are missed often,
  which costs throughput, never the bound.
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
from taskqueue.stores.rate_limits import Pace, take_turn
from taskqueue.stores.results import RATE_LIMITED, SCHEDULED, rfc3339

logger = logging.getLogger(__name__)

# A turn reached this much before its time still counts: Celery's timer and the hosts'
# clocks are that close.
EARLY_TOLERANCE_SECONDS = 0.01

# Per task, when this process last saw the rate item's next free turn: a hint only
# (`take_turn`'s `busy`), which saves a request when turns are given out ahead.
_next_free: dict[str, float] = {}


def wait_for_turn(task: Any) -> float | None:
    """Before the claim: the turn this delivery starts on (None: its task has no rate);
    otherwise send it back for a later turn and end the delivery (Ignore), or drop or
    reject it as the claim would."""
    request = task.request
    rate = _rate_of(task)
    if rate is None:
        return None
    now = time.time()
    turn = getattr(request, TURN_HEADER, None)
    if on_turn(turn, now, rate.pace):
        return float(turn)  # type: ignore[arg-type]
    turn = take(task, rate.pace, now)
    if turn > now:
        send_back(task, turn, now)
    return turn


def keep_turn(task: Any, turn: float, release: Callable[[], None]) -> None:
    """After the claim: return if the delivery is still on its turn, or a new turn is now;
    otherwise `release` the claim and send the delivery back for its new turn."""
    rate = _rate_of(task)
    if rate is None:
        return
    now = time.time()
    if on_turn(turn, now, rate.pace):
        return
    logger.info("task %s missed its turn by %.3f s: takes another", task.request.id, now - turn)
    again = take(task, rate.pace, now)
    if again <= now:
        return
    release()
    send_back(task, again, now)


def _rate_of(task: Any) -> Rate | None:
    """The rate of the delivered task (None: none, or not a delivery)."""
    spec = TASKS.get(getattr(task, "name", ""))
    return None if task.request.id is None or spec is None else spec.rate


def on_turn(turn: Any, now: float, pace: Pace) -> bool:
    """A delivery that carries `turn` (its header, if any) may start at `now` on it."""
    if not isinstance(turn, int | float) or isinstance(turn, bool):
        return False
    return turn - EARLY_TOLERANCE_SECONDS <= now < turn + pace.interval / 2


def take(task: Any, pace: Pace, now: float) -> float:
    """A turn from the task's rate item (one UpdateItem, now and then two)."""
    backend = task.app.backend
    busy = _next_free.get(task.name, 0.0) > now
    turn = take_turn(backend.client, backend.table_name, task.name, pace, now, busy=busy)
    _next_free[task.name] = turn + pace.interval
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
