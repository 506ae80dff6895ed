"""Dead-lettered tasks: how a run's end is counted, the lost worker's receive given back, the
state recorded on the last delivery, the watch, and the redrive's PENDING."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from celery.exceptions import Ignore, Reject, Retry, SoftTimeLimitExceeded, TimeLimitExceeded
from flask import Flask
from taskqueue.runtime import dead_letters
from taskqueue.runtime.dead_letters import Previous, account, check, requeue, watch_body, watched
from taskqueue.runtime.run_once import claim, release, run_once
from taskqueue.settings import Settings
from taskqueue.stores.results import mark_queued, read_status

from tests.unit.conftest import CLIENT, QUEUE_URL

LEASE = 40.0
NUMBERS = ("attempt", "losses", "failures")


@pytest.fixture
def celery(app: Flask) -> Celery:
    celery_app: Celery = app.extensions["celery"]
    return celery_app


def delivery(celery: Celery, task_id: str, received: int = 1, body: str = "the body") -> Any:
    """A delivery as kombu's SQS transport passes it: the received message in the request's
    properties, with SQS's receive count."""
    message = {"Body": body, "Attributes": {"ApproximateReceiveCount": str(received)}}
    properties = {
        "delivery_info": {"sqs_message": message, "sqs_queue": QUEUE_URL},
        "delivery_tag": "receipt-handle",
    }
    request = SimpleNamespace(id=task_id, hostname="w1", properties=properties)
    return SimpleNamespace(app=celery, request=request)


def item(celery: Celery, task_id: str) -> dict[str, Any]:
    backend = celery.backend
    found: dict[str, Any] = backend.client.get_item(
        TableName=backend.table_name, Key=backend.item_key(task_id)
    )["Item"]
    return found


def numbers(celery: Celery, task_id: str) -> tuple[int, int, int]:
    """The item's (attempt, losses, failures)."""
    found = item(celery, task_id)
    attempt, losses, failures = (dead_letters.count(found, name) for name in NUMBERS)
    return attempt, losses, failures


def messages(sqs: Any) -> list[dict[str, Any]]:
    """What the task queue holds (delays included), each received once."""
    answer = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)
    time.sleep(1.1)  # a copy sent again waits a second
    answer2 = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)
    return [*answer.get("Messages", []), *answer2.get("Messages", [])]


def lose(celery: Celery, task_id: str, received: int, settings: Settings) -> None:
    """A run that claims the task and dies (its lease over at once, nothing recorded)."""
    claimed = claim(delivery(celery, task_id, received), lease_seconds=0)
    account(delivery(celery, task_id, received), claimed.attempt, claimed.previous, settings, 0)


def test_a_claim_numbers_the_runs_and_returns_what_the_one_before_left(celery: Celery) -> None:
    mark_queued(celery, "t1", CLIENT)

    first = claim(delivery(celery, "t1"), lease_seconds=0)
    second = claim(delivery(celery, "t1", received=2), lease_seconds=60)

    assert (first.attempt, second.attempt) == (1, 2)
    assert first.previous["state"]["S"] == "PENDING"
    assert second.previous["state"]["S"] == "STARTED"


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        ("STARTED", Previous.LOST),
        ("PROGRESS", Previous.LOST),
        ("FAILURE", Previous.FAILED),
        ("DEAD_LETTERED", Previous.REDRIVEN),
        ("PENDING", None),
        ("RETRY", None),
        (None, None),
    ],
)
def test_the_run_before_was_lost_failed_or_redriven(state: str | None, outcome: Any) -> None:
    previous = {} if state is None else {"state": {"S": state}}

    assert dead_letters.previous_outcome(previous) == outcome


def test_lost_runs_and_failures_are_counted_apart(celery: Celery, settings: Settings) -> None:
    mark_queued(celery, "t1", CLIENT)
    lose(celery, "t1", 1, settings)
    claimed = claim(delivery(celery, "t1", 2), lease_seconds=0)  # the first run was lost
    account(delivery(celery, "t1", 2), claimed.attempt, claimed.previous, settings, 0)
    celery.backend.store_result("t1", RuntimeError("boom"), "FAILURE")  # the second failed

    claimed = claim(delivery(celery, "t1", 3), lease_seconds=60)
    account(delivery(celery, "t1", 1), claimed.attempt, claimed.previous, settings, LEASE)

    assert numbers(celery, "t1") == (3, 1, 1)


def test_the_last_delivery_after_a_lost_worker_is_sent_again_and_waits_pending(
    celery: Celery, settings: Settings, sqs: Any
) -> None:
    mark_queued(celery, "t1", CLIENT)
    lose(celery, "t1", 1, settings)
    last = delivery(celery, "t1", received=settings.max_receive_count, body="the task")
    claimed = claim(last, lease_seconds=60)

    with pytest.raises(Ignore):  # not run: its message is acknowledged
        account(last, claimed.attempt, claimed.previous, settings, LEASE)

    assert [m["Body"] for m in messages(sqs)] == ["the task"]  # SQS counts it from zero
    status = read_status(celery, "t1")
    assert status is not None and status.state == "PENDING"
    assert numbers(celery, "t1")[1] == 1
    claim(delivery(celery, "t1"), lease_seconds=60)  # its lease ended: the copy runs at once


def test_a_task_that_lost_max_receive_count_workers_gets_no_more_and_is_watched(
    celery: Celery, settings: Settings, sqs: Any
) -> None:
    mark_queued(celery, "t1", CLIENT)
    for received in [1, 2] * (settings.max_receive_count - 1):  # the receives before the last
        lose(celery, "t1", received, settings)
    last = delivery(celery, "t1", received=settings.max_receive_count)
    claimed = claim(last, lease_seconds=60)

    run = account(last, claimed.attempt, claimed.previous, settings, lease=0)  # watch in 1 s

    assert run.last and run.losses == 2 * settings.max_receive_count - 2
    [watch] = messages(sqs)
    assert watched(watch["Body"]) == ("t1", run.attempt)


def test_a_delivery_before_the_last_is_not_watched(celery: Celery, sqs: Any) -> None:
    mark_queued(celery, "t1", CLIENT)

    run_once(delivery(celery, "t1", received=2), lambda: None)

    assert messages(sqs) == []


def test_a_failure_on_the_last_delivery_records_dead_lettered_with_the_count(
    celery: Celery, settings: Settings
) -> None:
    mark_queued(celery, "t1", CLIENT)
    for received in (1, 2):
        with pytest.raises(RuntimeError):
            run_once(delivery(celery, "t1", received), lambda: fail(RuntimeError("boom")))
        celery.backend.mark_as_failure("t1", RuntimeError("boom"))  # what Celery records

    with pytest.raises(RuntimeError):
        run_once(
            delivery(celery, "t1", settings.max_receive_count), lambda: fail(RuntimeError("boom"))
        )
    celery.backend.mark_as_failure("t1", RuntimeError("boom"))  # after DEAD_LETTERED: kept

    status = read_status(celery, "t1")
    assert status is not None
    assert (status.state, status.reason, status.error) == (
        "DEAD_LETTERED",
        "failed 3 times",
        "RuntimeError: boom",
    )
    assert item(celery, "t1")["lease_until"]["N"] == "0"


def test_a_soft_time_limit_on_the_last_delivery_is_a_time_limit(
    celery: Celery, settings: Settings
) -> None:
    mark_queued(celery, "t1", CLIENT)

    with pytest.raises(SoftTimeLimitExceeded):
        run_once(delivery(celery, "t1", 3), lambda: fail(SoftTimeLimitExceeded()))

    status = read_status(celery, "t1")
    assert status is not None and (status.state, status.reason) == ("DEAD_LETTERED", "time limit")


@pytest.mark.parametrize("control", [Retry(), Ignore(), Reject("held", requeue=False)])
def test_celery_s_control_flow_on_the_last_delivery_is_no_failure(
    celery: Celery, control: Exception
) -> None:
    mark_queued(celery, "t1", CLIENT)

    with pytest.raises(type(control)):
        run_once(delivery(celery, "t1", 3), lambda: fail(control))

    status = read_status(celery, "t1")
    assert status is not None and status.state == "STARTED"


def test_a_watch_waits_while_the_run_holds_its_lease(celery: Celery) -> None:
    mark_queued(celery, "t1", CLIENT)
    claimed = claim(delivery(celery, "t1", 3), lease_seconds=30)

    again_in = check(celery, "t1", claimed.attempt, time.time())

    assert again_in is not None and 25 < again_in <= 30
    status = read_status(celery, "t1")
    assert status is not None and status.state == "STARTED"


def test_a_watch_finds_a_run_that_ended_without_an_outcome_lost(
    celery: Celery, settings: Settings
) -> None:
    mark_queued(celery, "t1", CLIENT)
    lose(celery, "t1", 1, settings)
    claimed = claim(delivery(celery, "t1", 2), lease_seconds=60)
    run = account(delivery(celery, "t1", 2), claimed.attempt, claimed.previous, settings, LEASE)
    celery.backend.store_result("t1", {"current": 1, "total": 3}, "PROGRESS")
    release(celery, "t1")  # handed back, or the lease ran out: its worker is gone

    assert check(celery, "t1", run.attempt, time.time()) is None

    status = read_status(celery, "t1")
    assert status is not None and (status.state, status.reason) == (
        "DEAD_LETTERED",
        "worker lost 2 times",
    )


def test_a_watch_finds_a_hard_time_limit_s_failure(celery: Celery) -> None:
    mark_queued(celery, "t1", CLIENT)
    claimed = claim(delivery(celery, "t1", 3), lease_seconds=0)
    celery.backend.mark_as_failure("t1", TimeLimitExceeded(8))  # the main process, pool killed

    check(celery, "t1", claimed.attempt, time.time())

    status = read_status(celery, "t1")
    assert status is not None and (status.state, status.reason) == ("DEAD_LETTERED", "time limit")


@pytest.mark.parametrize("later", ["SUCCESS", "a later run"])
def test_a_watch_on_a_run_that_ended_or_was_taken_over_records_nothing(
    celery: Celery, later: str
) -> None:
    mark_queued(celery, "t1", CLIENT)
    claimed = claim(delivery(celery, "t1", 3), lease_seconds=0)
    if later == "SUCCESS":
        celery.backend.store_result("t1", {"duration": 1}, "SUCCESS")
    else:
        claim(delivery(celery, "t1", 1), lease_seconds=0)

    assert check(celery, "t1", claimed.attempt, time.time()) is None

    status = read_status(celery, "t1")
    assert status is not None and status.state in {"SUCCESS", "STARTED"}


def test_a_watch_s_body_is_never_a_task_s() -> None:
    assert watched(watch_body("t1", 3)) == ("t1", 3)
    assert watched(json.dumps({"body": "x", "headers": {"id": "t1"}})) is None
    assert watched("eyJib2R5IjogIngifQ==") is None  # kombu's base64
    assert watched('{"dead_letter_watch": {"id": 1, "attempt": "3"}}') is None


def dead_letter(celery: Celery, task_id: str) -> None:
    """Queue the task and fail it on its last delivery: DEAD_LETTERED."""
    mark_queued(celery, task_id, CLIENT)
    with pytest.raises(RuntimeError):
        run_once(delivery(celery, task_id, 3), lambda: fail(RuntimeError("boom")))


def test_a_redrive_puts_a_dead_lettered_task_back_to_pending_with_its_counts_cleared(
    celery: Celery,
) -> None:
    dead_letter(celery, "t1")

    assert requeue(celery.backend, "t1") is True

    status = read_status(celery, "t1")
    assert status is not None and (status.state, status.reason) == ("PENDING", None)
    assert numbers(celery, "t1")[1:] == (0, 0)
    assert item(celery, "t1")["ttl"]  # kept from the state before


@pytest.mark.parametrize("state", ["STARTED", "SUCCESS", "FAILURE"])
def test_a_redrive_leaves_a_task_that_is_not_dead_lettered(celery: Celery, state: str) -> None:
    mark_queued(celery, "t1", CLIENT)
    celery.backend.store_result("t1", None, state)

    assert requeue(celery.backend, "t1") is False

    status = read_status(celery, "t1")
    assert status is not None and status.state == state


def test_a_claim_that_takes_over_dead_lettered_starts_the_counts_again(
    celery: Celery, settings: Settings
) -> None:
    dead_letter(celery, "t1")

    claimed = claim(delivery(celery, "t1", 1), lease_seconds=60)  # moved back by hand
    account(delivery(celery, "t1", 1), claimed.attempt, claimed.previous, settings, LEASE)

    assert numbers(celery, "t1")[1:] == (0, 0)


def fail(error: BaseException) -> None:
    raise error
