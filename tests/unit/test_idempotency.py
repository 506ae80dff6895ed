"""The claim that runs a task's body once per id, and the one-request state writes."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from celery.exceptions import Ignore, Reject
from flask import Flask
from taskqueue.runtime.run_once import claim, lease_seconds, release, run_once
from taskqueue.runtime.task_metrics import Outcome, marked
from taskqueue.settings import Settings
from taskqueue.stores.results import mark_queued, read_status


@pytest.fixture
def celery(app: Flask) -> Celery:
    celery_app: Celery = app.extensions["celery"]
    return celery_app


def delivery(celery: Celery, task_id: str) -> Any:
    """What `run_once` sees of one delivery: the app and the request."""
    return SimpleNamespace(app=celery, request=SimpleNamespace(id=task_id, hostname="w1"))


def fire(celery: Celery, task_id: str, client: str) -> Any:
    """A delivery whose message names its owner (a schedule's fire,
    taskqueue.catalogue.schedules)."""
    request = SimpleNamespace(id=task_id, hostname="w1", client=client)
    return SimpleNamespace(app=celery, request=request, name="queue_report")


def requests_made(celery: Celery) -> list[str]:
    """Records the DynamoDB operations the backend's client sends from now on."""
    made: list[str] = []
    celery.backend.client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: made.append(model.name)
    )
    return made


def test_a_claim_records_started_in_one_request(celery: Celery) -> None:
    made = requests_made(celery)

    claim(delivery(celery, "t1"), lease_seconds=60)

    assert made == ["UpdateItem"]
    status = read_status(celery, "t1")
    assert status is not None and status.state == "STARTED"


def test_a_claim_records_the_owner_its_message_names_when_the_item_has_none(
    celery: Celery,
) -> None:
    made = requests_made(celery)

    claim(fire(celery, "schedule-x-2026-12-01T03:00:00Z", "scheduler"), lease_seconds=60)

    assert made == ["UpdateItem"]
    assert read_status(celery, "schedule-x-2026-12-01T03:00:00Z", client="scheduler") is not None
    assert read_status(celery, "schedule-x-2026-12-01T03:00:00Z", client="other") is None


def test_a_claim_keeps_the_owner_the_web_recorded(celery: Celery) -> None:
    mark_queued(celery, "t1", "alice")

    claim(fire(celery, "t1", "mallory"), lease_seconds=60)

    status = read_status(celery, "t1", client="alice")
    assert status is not None and status.state == "STARTED"
    assert read_status(celery, "t1", client="mallory") is None


def test_each_state_is_one_request(celery: Celery) -> None:
    made = requests_made(celery)

    celery.backend.store_result("t1", {"current": 1, "total": 2}, "PROGRESS")
    celery.backend.store_result("t1", {"duration": 2}, "SUCCESS")

    assert made == ["UpdateItem", "UpdateItem"]


def test_a_late_state_never_overwrites_success(celery: Celery) -> None:
    celery.backend.store_result("t1", {"duration": 2}, "SUCCESS")
    celery.backend.store_result("t1", {"current": 1, "total": 2}, "PROGRESS")

    status = read_status(celery, "t1")
    assert status is not None and (status.state, status.result) == ("SUCCESS", {"duration": 2})


def test_a_rejected_delivery_leaves_the_running_task_s_state(celery: Celery) -> None:
    claim(delivery(celery, "t1"), lease_seconds=60)
    celery.backend.store_result("t1", {"current": 1, "total": 3}, "PROGRESS")

    # What Celery 5.7's main process does with a Reject(requeue=False) a claim raised.
    celery.backend.mark_as_failure("t1", Reject("claimed by another run", requeue=False))

    status = read_status(celery, "t1")
    assert status is not None and status.state == "PROGRESS"


def test_a_second_delivery_is_deferred_while_the_lease_holds(celery: Celery) -> None:
    claim(delivery(celery, "t1"), lease_seconds=60)

    with pytest.raises(Reject):
        claim(delivery(celery, "t1"), lease_seconds=60)


def test_a_delivery_after_success_is_dropped(celery: Celery) -> None:
    claim(delivery(celery, "t1"), lease_seconds=60)
    celery.backend.store_result("t1", None, "SUCCESS")

    with pytest.raises(Ignore):
        claim(delivery(celery, "t1"), lease_seconds=60)


def test_a_dropped_delivery_is_marked_for_the_metrics(celery: Celery) -> None:
    claim(delivery(celery, "t1"), lease_seconds=60)
    celery.backend.store_result("t1", None, "SUCCESS")
    again = delivery(celery, "t1")

    with pytest.raises(Ignore):
        claim(again, lease_seconds=60)

    assert marked(again.request) == (Outcome.DUPLICATE, False)


def test_a_delivery_cancelled_before_it_started_is_marked_revoked(celery: Celery) -> None:
    celery.backend.store_result("t1", None, "REVOKED")
    cancelled = delivery(celery, "t1")

    with pytest.raises(Ignore):
        claim(cancelled, lease_seconds=60)

    assert marked(cancelled.request) == (Outcome.REVOKED, False)


@pytest.mark.parametrize("ended", ["released", "expired"])
def test_a_delivery_after_the_lease_ended_runs_the_task_again(celery: Celery, ended: str) -> None:
    claim(delivery(celery, "t1"), lease_seconds=0 if ended == "expired" else 60)
    if ended == "released":
        release(celery, "t1")

    claim(delivery(celery, "t1"), lease_seconds=60)  # no Reject: this run takes over

    status = read_status(celery, "t1")
    assert status is not None and status.state == "STARTED"


def test_releasing_an_unclaimed_task_leaves_it_as_queued(celery: Celery) -> None:
    celery.backend.store_result("t1", None, "PENDING")

    release(celery, "t1")

    status = read_status(celery, "t1")
    assert status is not None and status.state == "PENDING"


def test_the_lease_ends_between_the_next_renewal_and_the_visibility_timeout() -> None:
    settings = Settings.from_values(visibility_heartbeat_interval=20, queue_visibility_timeout=60)

    interval = settings.visibility_heartbeat_interval
    assert interval < lease_seconds(settings) < settings.queue_visibility_timeout


def test_run_once_takes_the_lease_from_the_settings(celery: Celery, settings: Settings) -> None:
    def lease_left() -> float:
        item = celery.backend.client.get_item(
            TableName=celery.backend.table_name, Key=celery.backend.item_key("t1")
        )["Item"]
        return float(item["lease_until"]["N"]) - time.time()

    left = run_once(delivery(celery, "t1"), lease_left)

    assert lease_seconds(settings) - 5 < left <= lease_seconds(settings)


def test_the_default_lease_is_40_seconds() -> None:
    """shared/README.md: (interval + visibility) / 2 with the defaults, 20 s and 60 s."""
    assert lease_seconds(Settings()) == 40
