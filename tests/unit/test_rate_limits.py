"""Rate limits: the declared rate, GCRA's turns in the table (in-process moto) and the gate."""

from __future__ import annotations

import time
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery, Task
from celery.exceptions import Ignore
from flask import Flask
from taskqueue import TaskParams, register
from taskqueue.catalogue.delays import TURN_HEADER, delay_seconds, lead_seconds, needs_hop
from taskqueue.catalogue.rates import Rate, parse_rate
from taskqueue.catalogue.registry import TASKS
from taskqueue.runtime import rate_gate
from taskqueue.runtime.rate_gate import count_start, wait_for_turn
from taskqueue.settings import Settings, SettingsError
from taskqueue.stores.rate_limits import Pace, item_key, take_start, take_turn
from taskqueue.stores.results import mark_queued, read_status

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "burst", "interval"),
    [("10/s", 1, 0.1), ("5/s", 1, 0.2), ("30/m", 4, 2.0), ("100/h", 1, 36.0), ("1/h", 2, 3600.0)],
)
def test_a_rate_is_count_per_unit_with_a_burst(text: str, burst: int, interval: float) -> None:
    rate = parse_rate(text, burst)

    assert rate.pace == Pace(interval=interval, tolerance=(burst - 1) * interval)
    assert rate.burst == burst


@pytest.mark.parametrize(
    ("text", "burst", "says"),
    [
        ("10", 1, "is not a rate: write <count>/<unit>, unit s, m or h"),
        ("10/d", 1, "is not a rate"),
        ("10 / s", 1, "is not a rate"),
        ("-1/s", 1, "is not a rate"),
        ("1.5/s", 1, "is not a rate"),
        ("0/s", 1, "allows nothing"),
        ("5/s", 0, "rate_burst 0 must be a whole number of at least 1"),
        ("5/s", True, "rate_burst True must be"),
    ],
)
def test_a_malformed_rate_is_refused_with_the_reason(text: str, burst: Any, says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        parse_rate(text, burst)


def test_register_refuses_a_malformed_rate_before_the_task_exists() -> None:
    class NoParams(TaskParams):
        """No parameters."""

    with pytest.raises(SettingsError, match="'5/sec' is not a rate"):
        register(NoParams, rate_limit="5/sec")
    assert "never_registered" not in TASKS


def test_register_keeps_the_declared_rate() -> None:
    assert TASKS["limited"].rate == Rate(count=5, per_seconds=1, burst=1)
    assert TASKS["noop"].rate is None


def requests_made(dynamodb: Any) -> list[str]:
    """Records the DynamoDB operations `dynamodb` sends from now on."""
    made: list[str] = []
    dynamodb.meta.events.register(
        "before-call.dynamodb", lambda model, **_: made.append(model.name)
    )
    return made


@pytest.fixture
def table(dynamodb: Any, settings: Settings) -> str:
    return settings.results_table


def test_turns_are_spaced_by_the_interval(dynamodb: Any, table: str) -> None:
    pace = parse_rate("5/s").pace

    turns = [take_turn(dynamodb, table, "t", pace, NOW) for _ in range(4)]

    assert turns == pytest.approx([NOW, NOW + 0.2, NOW + 0.4, NOW + 0.6])


def test_a_burst_starts_at_once_then_the_rate_holds(dynamodb: Any, table: str) -> None:
    pace = parse_rate("5/s", burst=3).pace

    turns = [take_turn(dynamodb, table, "t", pace, NOW) for _ in range(5)]

    assert turns == pytest.approx([NOW, NOW, NOW, NOW + 0.2, NOW + 0.4])


def test_an_idle_rate_starts_at_once_again(dynamodb: Any, table: str) -> None:
    pace = parse_rate("5/s").pace
    for _ in range(3):
        take_turn(dynamodb, table, "t", pace, NOW)

    assert take_turn(dynamodb, table, "t", pace, NOW + 0.5) == pytest.approx(NOW + 0.6)
    assert take_turn(dynamodb, table, "t", pace, NOW + 10) == NOW + 10


@pytest.mark.parametrize("busy", [False, True])
def test_a_wrong_guess_costs_a_request_not_a_wrong_turn(
    dynamodb: Any, table: str, busy: bool
) -> None:
    pace = parse_rate("5/s").pace
    made = requests_made(dynamodb)

    first = take_turn(dynamodb, table, "t", pace, NOW, busy=busy)
    second = take_turn(dynamodb, table, "t", pace, NOW, busy=busy)

    assert (first, second) == pytest.approx((NOW, NOW + 0.2))
    # idle guessed: the first right, the second wrong; busy guessed: the other way round
    assert made == ["UpdateItem"] * 3


def test_each_task_has_its_own_item(dynamodb: Any, table: str) -> None:
    pace = parse_rate("5/s").pace
    take_turn(dynamodb, table, "a", pace, NOW)

    assert take_turn(dynamodb, table, "b", pace, NOW) == NOW
    item = dynamodb.get_item(TableName=table, Key=item_key("a"))["Item"]
    assert item["id"] == {"S": "ratelimit#a"} and "ttl" not in item
    assert float(item["tat"]["N"]) == pytest.approx(NOW + 0.2)


@pytest.mark.parametrize(
    ("eta", "lead", "expected"),
    [
        (NOW + 0.2, 2, 0),  # due within the lead: at once, Celery's timer waits
        (NOW + 2.5, 2, 1),  # visible 1.5 s before its turn
        (NOW + 3, 2, 1),
        (NOW + 3.2, 2, 2),  # visible 1.2 s before: never later than 1 s before
        (NOW + 3.2, 0, 4),  # any other delayed message: never early
    ],
)
def test_a_turn_is_made_visible_ahead_of_it(eta: float, lead: int, expected: int) -> None:
    assert delay_seconds(eta, NOW, 900, lead) == expected


def test_a_turn_reaches_celery_up_to_its_lead_early() -> None:
    turn = {"headers": {"eta": "2027-01-15T08:00:00+00:00", TURN_HEADER: NOW}}

    assert lead_seconds(turn) == 2 and lead_seconds({"headers": {"eta": "x"}}) == 0
    assert not needs_hop(NOW + 1.9, NOW, lead_seconds(turn))
    assert needs_hop(NOW + 2.1, NOW, lead_seconds(turn))
    assert needs_hop(NOW + 1.1, NOW)


@pytest.fixture(autouse=True)
def fresh_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's table is new: the gate's hint of turns ahead starts empty too."""
    monkeypatch.setattr(rate_gate, "_next_turn", {})
    monkeypatch.setattr(rate_gate, "_next_start", {})


@pytest.fixture
def celery(app: Flask) -> Celery:
    celery_app: Celery = app.extensions["celery"]
    return celery_app


class Delivery(SimpleNamespace):
    """What the gate sees of one delivery of `limited`: the app, the request, and the copies
    it sends back (what `signature_from_request(...).apply_async()` would send)."""

    def __init__(self, celery: Celery, task_id: str, **headers: Any) -> None:
        request = SimpleNamespace(id=task_id, hostname="w1", headers=headers or None, **headers)
        super().__init__(app=celery, request=request, name="limited", sent=[])

    def signature_from_request(self, request: Any, **options: Any) -> Any:
        return SimpleNamespace(apply_async=lambda: self.sent.append(options))


def test_the_gate_starts_a_task_within_its_rate_and_sends_one_over_it_back(
    celery: Celery,
) -> None:
    mark_queued(celery, "first", client="c", task="limited")
    mark_queued(celery, "second", client="c", task="limited")
    first, second = Delivery(celery, "first"), Delivery(celery, "second", client="c")

    assert wait_for_turn(first) is True
    with pytest.raises(Ignore):
        wait_for_turn(second)

    assert first.sent == []
    [copy] = second.sent
    turn = copy["headers"][TURN_HEADER]
    assert copy["headers"]["client"] == "c"  # the message's own headers travel with it
    assert copy["eta"].timestamp() == pytest.approx(turn)
    status = read_status(celery, "second")
    assert status is not None
    assert (status.state, status.reason) == ("SCHEDULED", "rate limited")
    assert status.due is not None
    assert datetime.fromisoformat(status.due).timestamp() == pytest.approx(turn, abs=0.001)


@pytest.mark.parametrize("late", [0.0, 5.0])
def test_a_delivery_on_or_after_its_turn_goes_on_without_asking_the_table(
    celery: Celery, late: float
) -> None:
    made = requests_made(celery.backend.client)

    assert wait_for_turn(Delivery(celery, "t1", **{TURN_HEADER: time.time() - late})) is True
    assert made == []


def test_a_delivery_before_its_turn_takes_one(celery: Celery) -> None:
    made = requests_made(celery.backend.client)
    early = Delivery(celery, "t1", **{TURN_HEADER: time.time() + 5})

    assert wait_for_turn(early) is True  # the rate is idle: a new turn, now
    assert made == ["UpdateItem"]


def test_a_start_that_fits_goes_on_and_one_that_does_not_is_sent_back(celery: Celery) -> None:
    released: list[str] = []
    for name in ("a", "b"):  # the bucket: burst 1, and one more
        count_start(Delivery(celery, name), lambda: released.append("fits"))
    full = Delivery(celery, "c")
    mark_queued(celery, "c", client="c", task="limited")

    with pytest.raises(Ignore):
        count_start(full, lambda: released.append("c"))

    assert released == ["c"] and len(full.sent) == 1
    status = read_status(celery, "c")
    assert status is not None and status.reason == "rate limited"


def test_starts_bucket_holds_one_more_than_the_burst(dynamodb: Any, table: str) -> None:
    pace = parse_rate("5/s").pace

    fits = [take_start(dynamodb, table, "t", pace, NOW) for _ in range(3)]

    assert fits == [True, True, False]
    assert take_start(dynamodb, table, "t", pace, NOW + 0.2) is True


@pytest.mark.parametrize("burst", [1, 3])
def test_counted_starts_never_exceed_count_plus_burst_in_any_second(
    dynamodb: Any, table: str, burst: int
) -> None:
    pace = parse_rate("5/s", burst).pace
    tries = [NOW + step * 0.05 for step in range(80)]  # a start tried every 50 ms for 4 s

    starts = [now for now in tries if take_start(dynamodb, table, "t", pace, now)]

    busiest = max(sum(start <= other < start + 1 for other in starts) for start in starts)
    assert busiest == 5 + burst


def test_a_finished_task_over_its_rate_is_dropped_not_sent_back(celery: Celery) -> None:
    wait_for_turn(Delivery(celery, "other"))  # takes the turn of now
    celery.backend.store_result("done", None, "SUCCESS")
    again = Delivery(celery, "done")

    with pytest.raises(Ignore):
        wait_for_turn(again)

    assert again.sent == []
    status = read_status(celery, "done")
    assert status is not None and status.state == "SUCCESS"


def test_a_task_without_a_rate_passes_untouched(celery: Celery) -> None:
    made = requests_made(celery.backend.client)
    delivery = Delivery(celery, "t1")
    delivery.name = "noop"

    wait_for_turn(delivery)

    assert made == []


def test_the_limited_task_is_a_diagnostic_task() -> None:
    assert TASKS["limited"].diagnostic
    assert isinstance(TASKS["limited"].task, Task)
