"""Schedule declarations: what Scheduler would refuse is refused, fire times, the message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from taskqueue.catalogue import schedules
from taskqueue.catalogue.registry import TASKS
from taskqueue.catalogue.schedules import (
    SCHEDULED_TIME,
    ScheduleError,
    fire_message,
    schedule,
    task_id,
)
from taskqueue.factory import declared_schedules as declared
from taskqueue.tasks.long_task import long_task
from taskqueue.tasks.noop import noop


@pytest.fixture(autouse=True)
def _no_leftover_declarations() -> Iterator[None]:
    """Each test's declarations leave `SCHEDULES` as it was."""
    before = dict(declared())
    yield
    schedules.SCHEDULES.clear()
    schedules.SCHEDULES.update(before)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_product_ships_the_queue_report_schedule() -> None:
    report = declared()["queue-report"]

    assert report.spec is TASKS["queue_report"]
    assert report.client == "scheduler"
    assert report.next_fire(at("2026-12-01T16:41:07")) == at("2026-12-01T16:45:00")


def test_params_are_validated_by_the_tasks_own_model() -> None:
    declared_long = schedule(
        "long", task=long_task, params={"duration": 5}, expression="rate(1 hour)"
    )
    assert declared_long.params.model_dump() == {"duration": 5}

    with pytest.raises(ValidationError):
        schedule("bad", task=long_task, params={"duration": 0}, expression="rate(1 hour)")
    with pytest.raises(ValidationError):
        schedule("extra", task=noop, params={"unknown": 1}, expression="rate(1 hour)")


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",  # Scheduler: singular for 1
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(5 seconds)",
        "cron(0 3 * * *)",  # five fields
        "cron(0 3 * * * *)",  # neither day field is ?
        "cron(0 3 ? * ? *)",  # both are
        "cron(0 3 * * ? 2027)",  # a year: not periodic
        "at(2027-01-01T00:00:00)",
        "every 5 minutes",
    ],
)
def test_an_expression_scheduler_would_refuse_is_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        schedule("x", task=noop, expression=expression)


@pytest.mark.parametrize("name", ["has space", "dot.ted", "", "x" * 65, "queue-report"])
def test_a_bad_or_repeated_name_is_refused(name: str) -> None:
    with pytest.raises(ScheduleError):
        schedule(name, task=noop, expression="rate(1 hour)")


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="time zone"):
        schedule("x", task=noop, expression="cron(0 3 * * ? *)", timezone="Mars/Olympus")


def test_a_cron_counts_weekdays_from_sunday_as_one_in_its_time_zone() -> None:
    # 2026-12-04 is a Friday; Scheduler's 6 is Friday. 09:00 in Berlin is 08:00 UTC in winter.
    friday = schedule("friday", task=noop, expression="cron(0 9 ? * 6 *)", timezone="Europe/Berlin")

    assert friday.next_fire(at("2026-12-01T12:00:00")) == at("2026-12-04T08:00:00")
    assert friday.last_fire(at("2026-12-04T08:00:00")) == at("2026-12-04T08:00:00")
    assert friday.last_fire(at("2026-12-04T07:59:59")) == at("2026-11-27T08:00:00")
    assert friday.last_fire(at("2026-12-04T07:59:59.900")) == at("2026-11-27T08:00:00")


def test_a_rate_fires_on_multiples_of_its_period_from_the_epoch() -> None:
    every_minute = schedule("tick", task=noop, expression="rate(1 minute)")
    every_2_hours = schedule("slow", task=noop, expression="rate(2 hours)")

    assert every_minute.next_fire(at("2026-12-01T16:41:07")) == at("2026-12-01T16:42:00")
    assert every_minute.next_fire(at("2026-12-01T16:42:00")) == at("2026-12-01T16:43:00")
    assert every_minute.last_fire(at("2026-12-01T16:42:00")) == at("2026-12-01T16:42:00")
    assert every_2_hours.last_fire(at("2026-12-01T17:59:00")) == at("2026-12-01T16:00:00")


def test_the_message_is_plain_json_with_the_placeholder_in_the_task_id() -> None:
    declared_long = schedule(
        "long", task=long_task, params={"duration": 5}, expression="rate(1 hour)", client="ops"
    )
    template = declared_long.message_template("taskqueue-tasks")

    envelope = json.loads(template)  # no base64 around it: Scheduler substitutes in text
    assert envelope["headers"]["id"] == f"schedule-long-{SCHEDULED_TIME}"
    assert envelope["headers"]["task"] == "long_task"
    assert envelope["headers"]["client"] == "ops"
    assert json.loads(envelope["body"])[:2] == [[], {"duration": 5}]
    assert envelope["properties"]["delivery_info"]["routing_key"] == "taskqueue-tasks"

    fired = json.loads(fire_message(template, at("2026-12-01T03:00:00")))
    assert fired["headers"]["id"] == "schedule-long-2026-12-01T03:00:00Z"
    assert fired["headers"]["id"] == task_id("long", at("2026-12-01T03:00:00"))
    assert SCHEDULED_TIME not in json.dumps(fired)


def test_params_may_not_carry_a_scheduler_placeholder() -> None:
    with pytest.raises(ScheduleError, match=r"<aws\."):
        schedule(
            "x",
            task=TASKS["fail"],
            params={"message": "<aws.scheduler.schedule-arn>"},
            expression="rate(1 hour)",
        )
