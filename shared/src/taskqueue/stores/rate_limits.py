"""A task's rate across every worker: one item per limited task in the results table.

The item `ratelimit#<task name>` holds two times of the generic cell rate algorithm (GCRA),
each a theoretical arrival time: when the next one is due at the steady rate. One taken at
`now` is due at `max(now, time - tolerance)` (the tolerance lets `burst` through at once
after a quiet spell) and moves the time to `max(time, now) + interval`.

- `tat`, the **turns** (`take_turn`): every caller is given one, now or later; the waiting
  tasks come back at theirs (taskqueue.runtime.rate_gate).
- `started`, the **starts** (`take_start`): counted right before a body runs, with one
  interval more of tolerance, and refused past it. The turns spread the starts; this one
  bounds them, however late a task reaches its turn.

Why this design:

- **One number per decision, not a token bucket's two.** A bucket keeps its tokens and when
  it was last refilled, and needs both to decide; GCRA's one time is the same bucket
  (capacity `burst`, refilled at the rate), so each decision reads and writes one attribute.
- **Turns, not refusals.** A start over the rate is given the next free turn: `tat` moves on
  for it, so the waiting tasks are served in the order they asked and each comes back once,
  at its own turn (taskqueue.runtime.rate_gate). A plain refusal would send every waiting
  task back to try again at the same whole second (SQS delays in whole seconds) and let
  only the burst through each time.
- **No read, no retry loop.** Each decision is one conditional UpdateItem, which DynamoDB
  applies atomically: either `time <= now` (the rate is idle: `time = now + interval`, at
  once) or `time > now` (`time = time + interval`, answered with the new value, from which
  the turn follows; for a start, only while `time <= now + tolerance`). Two workers asking
  at once both succeed, one after the other, with different turns, so there is no lost
  update to detect: a read followed by a write conditional on the value read would fail and
  retry under exactly the contention a rate limit sees. A condition fails only when the
  guess of which case applies was wrong (the other one is then right), or when a start
  finds the starts used up (its answer: no).
- **No TTL.** One small item per limited task (the catalogue bounds them). An item deleted
  while turns are given out ahead would let new starts in before the waiting ones.

The workers' clocks are the clock: on AWS they are synchronised to within a millisecond or
so (Amazon Time Sync); what a skew between two hosts adds to the bound is that skew.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

ITEM_PREFIX = "ratelimit#"
TAT_ATTRIBUTE = "tat"
# The starts' own GCRA time: turns schedule the waiting tasks, this one bounds the starts.
STARTED_ATTRIBUTE = "started"
# Each case is tried at most this often: a condition fails again only when the item was
# deleted between two requests (by hand: it has no TTL).
MAX_ATTEMPTS = 4


class RateContended(Exception):
    """Neither case of the decision held in MAX_ATTEMPTS requests."""


def item_key(task_name: str) -> dict[str, dict[str, str]]:
    """The table key of the rate item of the task named `task_name`."""
    return {"id": {"S": ITEM_PREFIX + task_name}}


@dataclass(frozen=True)
class Pace:
    """A rate as GCRA counts it (taskqueue.catalogue.rates.Rate declares it): seconds between
    starts at the steady rate, and how far ahead of it a burst may run."""

    interval: float
    tolerance: float


def take_turn(
    dynamodb: Any, table: str, task_name: str, pace: Pace, now: float, *, busy: bool = False
) -> float:
    """Take the task's next turn allowed by `pace` as of `now`, and return when it is: `now`
    itself when the task may start at once, else a later time that is this caller's.

    `busy`: turns are probably given out ahead (the caller saw one), so the second case is
    tried first; a wrong guess costs one more request, never a wrong answer.
    """
    turn = _count(dynamodb, table, task_name, TAT_ATTRIBUTE, pace, now, None, busy)
    assert turn is not None  # no bound: a turn is always given
    return turn


def take_start(
    dynamodb: Any, table: str, task_name: str, pace: Pace, now: float, *, busy: bool = False
) -> bool:
    """Count a start at `now` against the starts' own GCRA (`started`): True when it fits,
    False when the rate's starts are used up.

    Its tolerance is one interval more than the turns' (a bucket of burst + 1): a start
    late on its turn still fits beside the next one's, and a window of one unit, [t, t + 1
    unit), still holds at most count + burst starts (the bucket's burst + 1, then count - 1
    more as it refills before the window ends).
    """
    latest = now + pace.tolerance + pace.interval
    return (
        _count(dynamodb, table, task_name, STARTED_ATTRIBUTE, pace, now, latest, busy) is not None
    )


def _count(
    dynamodb: Any,
    table: str,
    task_name: str,
    attribute: str,
    pace: Pace,
    now: float,
    latest: float | None,
    busy: bool,
) -> float | None:
    """One GCRA decision on `attribute`: the time it allows (now or later), or None when
    the attribute is past `latest` (a bound: nothing is counted)."""
    for attempt in range(MAX_ATTEMPTS):
        advance = (attempt % 2 == 0) == busy
        update = _advance(pace, now, latest) if advance else _restart(pace, now)
        try:
            answer = dynamodb.update_item(
                TableName=table,
                Key=item_key(task_name),
                ExpressionAttributeNames={"#at": attribute},
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **update,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            held = (error.response.get("Item") or {}).get(attribute, {}).get("N")  # type: ignore[attr-defined]
            if latest is not None and held is not None and float(held) > latest:
                return None
            continue
        if not advance:
            return now
        previous = float(answer["Attributes"][attribute]["N"]) - pace.interval
        return max(now, previous - pace.tolerance)
    raise RateContended(task_name)


def _restart(pace: Pace, now: float) -> dict[str, Any]:
    """The case of an idle rate (the attribute at or before now, or none yet): now."""
    return {
        "UpdateExpression": "SET #at = :next",
        "ConditionExpression": "attribute_not_exists(#at) OR #at <= :now",
        "ExpressionAttributeValues": {
            ":next": {"N": repr(now + pace.interval)},
            ":now": {"N": repr(now)},
        },
    }


def _advance(pace: Pace, now: float, latest: float | None) -> dict[str, Any]:
    """The case of turns given out ahead (the attribute after now, and not past `latest`):
    the one at the attribute, less the burst's tolerance, and not before now."""
    values = {":interval": {"N": repr(pace.interval)}, ":now": {"N": repr(now)}}
    condition = "#at > :now"
    if latest is not None:
        condition += " AND #at <= :latest"
        values[":latest"] = {"N": repr(latest)}
    return {
        "UpdateExpression": "SET #at = #at + :interval",
        "ConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }
