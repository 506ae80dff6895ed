"""Delayed tasks: the message waits in SQS, never in a worker's memory.

Every delay is Celery's own `eta` header: the web's `delay_seconds`/`not_before`,
`apply_async(countdown=…)` or `eta=…` from Python code, and `self.retry(countdown=…)` all set
it. A worker that receives a task whose eta is still ahead would keep it in memory until then
(while its visibility timeout runs out), so the transport (taskqueue.runtime.sqs_transport) sends
such a message with SQS's `DelaySeconds` instead: the remaining seconds, rounded up, at most
`DELAY_HOP_SECONDS` (SQS's maximum, 900 s). A message whose eta is still more than
`HOP_TOLERANCE_SECONDS` ahead when it is received (a delay longer than one hop) is sent
again with the remaining delay and the received copy deleted: a hop, two SQS requests per
15 minutes of delay, and nothing held meanwhile.

A rate-limited task sent back for its turn (taskqueue.runtime.rate_gate) carries the turn in
`TURN_HEADER` and an eta at it: it must start on the turn, within a fraction of a second,
while SQS delays in whole seconds (and moto's long poll looks for delayed messages once a
second). So its message is made visible `TURN_LEAD_SECONDS` (1-2 s) before the turn and is
handed to Celery up to that early; Celery's timer starts it on the turn. It holds no pool
slot meanwhile, only its place in the worker's memory for those seconds.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery, states

from taskqueue.stores.results import STATE_ATTRIBUTE

# A message received at most this long before its eta is handed to Celery, which waits the
# rest in memory: clocks of different hosts differ by a fraction of a second.
HOP_TOLERANCE_SECONDS = 1.0
# The message header of a rate-limited task's turn (a Unix time), and how far ahead of its
# eta such a message is made visible and handed to Celery.
TURN_HEADER = "rate_turn"
TURN_LEAD_SECONDS = 2


def eta_of(message: dict[str, Any]) -> float | None:
    """The task message's eta (Celery's `eta` header) as a Unix time; None without one."""
    eta = (message.get("headers") or {}).get("eta")
    if not eta:
        return None
    try:
        due = datetime.fromisoformat(eta)
    except (TypeError, ValueError):  # not ours to judge: Celery rejects it as it always did
        return None
    if due.tzinfo is None:  # Celery writes UTC (enable_utc); a naive eta means the same
        due = due.replace(tzinfo=UTC)
    return due.timestamp()


def lead_seconds(message: dict[str, Any]) -> int:
    """How long before its eta the message should reach the worker: `TURN_LEAD_SECONDS`
    for a rate-limited task's turn, else 0 (never early)."""
    return TURN_LEAD_SECONDS if TURN_HEADER in (message.get("headers") or {}) else 0


def delay_seconds(eta: float | None, now: float, hop_seconds: int, lead: int = 0) -> int:
    """SQS's DelaySeconds for a message due at `eta` and wanted `lead` seconds before it:
    the remaining time rounded up (never earlier than wanted), at most one hop; 0 for no
    eta or one already reached."""
    if eta is None or eta - lead <= now:
        return 0
    return min(hop_seconds, math.ceil(eta - lead - now))


def needs_hop(eta: float, now: float, lead: int = 0) -> bool:
    """A received message is not due yet: it must wait in SQS again, not in the worker."""
    return eta - now > max(HOP_TOLERANCE_SECONDS, lead)


def is_revoked(celery: Celery, task_id: str) -> bool:
    """The task was cancelled (REVOKED): a hop of it can be dropped. One GetItem."""
    backend = celery.backend
    item = backend.client.get_item(
        TableName=backend.table_name,
        Key=backend.item_key(task_id),
        ProjectionExpression="#state",
        ExpressionAttributeNames={"#state": STATE_ATTRIBUTE},
    ).get("Item")
    return bool(item) and item.get(STATE_ATTRIBUTE, {}).get("S") == states.REVOKED


# A `not_before` this far in the past is still accepted (as "now"): a client's clock, or
# the time its request took, may put a due time just behind the web's clock.
PAST_TOLERANCE_SECONDS = 5


def check_delay_seconds(delay: int, max_delay: int) -> int:
    """A requested delay, or ValueError naming the maximum."""
    if delay > max_delay:
        raise ValueError(
            f"must be at most {max_delay} seconds ({_days(max_delay)}, TASK_MAX_DELAY)"
        )
    return delay


def check_not_before(not_before: datetime, max_delay: int, now: datetime) -> datetime:
    """A requested due time, or ValueError when it is past or beyond the maximum delay."""
    ahead = (not_before - now).total_seconds()
    if ahead < -PAST_TOLERANCE_SECONDS:
        raise ValueError(
            f"is {-ahead:.0f} seconds in the past (at most {PAST_TOLERANCE_SECONDS} are accepted)"
        )
    if ahead > max_delay:
        raise ValueError(
            f"must be at most {max_delay} seconds ({_days(max_delay)}, TASK_MAX_DELAY) from now"
        )
    return not_before


def due_time(
    delay_seconds: int | None, not_before: datetime | None, now: datetime
) -> datetime | None:
    """When a requested task is due; None when it is due at once (no delay, or a time
    already reached)."""
    due = now + timedelta(seconds=delay_seconds) if delay_seconds else not_before
    return due if due is not None and due > now else None


def _days(seconds: int) -> str:
    days, hours = seconds / 86_400, seconds / 3600
    if days >= 1:
        return f"{days:g} day" + ("s" if days != 1 else "")
    return f"{hours:g} hour" + ("s" if hours != 1 else "")
