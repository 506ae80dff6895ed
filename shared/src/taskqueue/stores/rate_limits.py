"""A task's rate across every worker: one item per limited task in the results table.

The item `ratelimit#<task name>` holds one number, `tat`, the generic cell rate algorithm's
(GCRA) theoretical arrival time: when the next start is due at the steady rate. A start at
`now` is due at `max(now, tat - tolerance)` (the tolerance lets `burst` starts through at
once after a quiet spell) and moves `tat` to `max(tat, now) + interval`. Why this design:

- **One number, not a token bucket's two.** A bucket keeps its tokens and when it was last
  refilled, and needs both to decide; GCRA's one timestamp is the same bucket (capacity
  `burst`, refilled at the rate), so each decision reads and writes one attribute.
- **Turns, not refusals.** A start over the rate is given the next free turn: `tat` moves on
  for it, so the waiting tasks are served in the order they asked and each comes back once,
  at its own turn (taskqueue.runtime.rate_gate). A plain refusal would send every waiting
  task back to try again at the same whole second (SQS delays in whole seconds) and let
  only the burst through each time.
- **No read, no retry loop.** Each decision is one conditional UpdateItem, which DynamoDB
  applies atomically: either `tat <= now` (the rate is idle: `tat = now + interval`, start
  at once) or `tat > now` (`tat = tat + interval`, answered with the new value, from which
  the turn follows). Two workers asking at once both succeed, one after the other, with
  different turns, so there is no lost update to detect: a read followed by a write
  conditional on the value read would fail and retry under exactly the contention a rate
  limit sees. A condition fails only when the guess of which case applies was wrong; the
  other one is then right.
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
    """Take the task's next start allowed by `pace` as of `now`, and return when it is:
    `now` itself when the task may start at once, else a later time that is this caller's.

    `busy`: turns are probably given out ahead (the caller saw one), so the second case is
    tried first; a wrong guess costs one more request, never a wrong answer.
    """
    cases = [_advance, _restart] if busy else [_restart, _advance]
    for attempt in range(MAX_ATTEMPTS):
        case = cases[attempt % 2]
        try:
            return case(dynamodb, table, task_name, pace, now)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
    raise RateContended(task_name)


def _restart(dynamodb: Any, table: str, task_name: str, pace: Pace, now: float) -> float:
    """The rate is idle (`tat <= now`, or no item yet): start now."""
    dynamodb.update_item(
        TableName=table,
        Key=item_key(task_name),
        UpdateExpression="SET #tat = :next",
        ConditionExpression="attribute_not_exists(#tat) OR #tat <= :now",
        ExpressionAttributeNames={"#tat": TAT_ATTRIBUTE},
        ExpressionAttributeValues={
            ":next": {"N": repr(now + pace.interval)},
            ":now": {"N": repr(now)},
        },
    )
    return now


def _advance(dynamodb: Any, table: str, task_name: str, pace: Pace, now: float) -> float:
    """Turns are given out ahead (`tat > now`): take the one at `tat`, less the burst's
    tolerance, and not before now."""
    answer = dynamodb.update_item(
        TableName=table,
        Key=item_key(task_name),
        UpdateExpression="SET #tat = #tat + :interval",
        ConditionExpression="#tat > :now",
        ExpressionAttributeNames={"#tat": TAT_ATTRIBUTE},
        ExpressionAttributeValues={
            ":interval": {"N": repr(pace.interval)},
            ":now": {"N": repr(now)},
        },
        ReturnValues="UPDATED_NEW",
    )
    previous = float(answer["Attributes"][TAT_ATTRIBUTE]["N"]) - pace.interval
    return max(now, previous - pace.tolerance)
