"""Delays: the transport's DelaySeconds and hop math, and a hop against in-process moto."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery import Celery
from flask import Flask
from taskqueue.catalogue.delays import (
    check_delay_seconds,
    check_not_before,
    delay_seconds,
    due_time,
    eta_of,
    needs_hop,
)
from taskqueue.stores.cancellation import cancel_queued
from taskqueue.stores.results import mark_queued

from tests.unit.conftest import CLIENT, QUEUE_URL

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("eta", "expected"),
    [
        (None, 0),
        (NOW - 5, 0),  # overdue: at once
        (NOW, 0),
        (NOW + 0.2, 1),  # rounded up: never delivered before it is due
        (NOW + 3, 3),
        (NOW + 899.5, 900),
        (NOW + 900, 900),
        (NOW + 901, 900),  # beyond SQS's maximum: a hop at 900, the rest later
        (NOW + 7 * 86_400, 900),
    ],
)
def test_delay_seconds_is_the_remaining_time_rounded_up_at_most_one_hop(
    eta: float | None, expected: int
) -> None:
    assert delay_seconds(eta, NOW, 900) == expected


def test_a_shorter_hop_caps_the_delay() -> None:
    assert delay_seconds(NOW + 7, NOW, 2) == 2
    assert delay_seconds(NOW + 1.5, NOW, 2) == 2


@pytest.mark.parametrize(
    ("ahead", "hop"), [(-10, False), (0, False), (0.9, False), (1.0, False), (1.5, True)]
)
def test_a_message_is_delayed_again_only_when_more_than_a_second_early(
    ahead: float, hop: bool
) -> None:
    assert needs_hop(NOW + ahead, NOW) is hop


def test_eta_of_reads_celerys_header_as_utc() -> None:
    assert eta_of({"headers": {"eta": "2027-01-15T08:00:00+00:00"}}) == 1_800_000_000.0
    assert eta_of({"headers": {"eta": "2027-01-15T09:00:00+01:00"}}) == 1_800_000_000.0
    assert eta_of({"headers": {"eta": "2027-01-15T08:00:00"}}) == 1_800_000_000.0  # naive: UTC
    assert eta_of({"headers": {"eta": None}}) is None
    assert eta_of({"headers": {"eta": "soon"}}) is None  # Celery's to judge, as before
    assert eta_of({}) is None


def test_the_maximum_is_named_in_the_error() -> None:
    assert check_delay_seconds(604_800, 604_800) == 604_800
    with pytest.raises(ValueError, match=r"at most 604800 seconds \(7 days, TASK_MAX_DELAY\)"):
        check_delay_seconds(604_801, 604_800)
    now = datetime.fromtimestamp(NOW, UTC)
    with pytest.raises(ValueError, match=r"3600 seconds \(1 hour, TASK_MAX_DELAY\) from now"):
        check_not_before(now + timedelta(seconds=3601), 3600, now)
    with pytest.raises(ValueError, match="60 seconds in the past"):
        check_not_before(now - timedelta(seconds=60), 3600, now)
    assert check_not_before(now - timedelta(seconds=4), 3600, now) == now - timedelta(seconds=4)


def test_due_time_is_none_for_a_task_due_at_once() -> None:
    now = datetime.fromtimestamp(NOW, UTC)
    assert due_time(None, None, now) is None
    assert due_time(0, None, now) is None
    assert due_time(None, now - timedelta(seconds=3), now) is None  # within the tolerance
    assert due_time(30, None, now) == now + timedelta(seconds=30)
    assert due_time(None, now + timedelta(hours=2), now) == now + timedelta(hours=2)


@pytest.fixture
def channel(app: Flask) -> Iterator[Any]:
    """The web's broker channel (taskqueue.runtime.sqs_transport.Channel) on in-process moto."""
    celery: Celery = app.extensions["celery"]
    with celery.connection_for_write() as connection:
        yield connection.default_channel


def send_calls(channel: Any) -> list[dict[str, Any]]:
    """The SendMessage parameters the channel's client sends from now on."""
    calls: list[dict[str, Any]] = []
    client = channel.sqs(queue="taskqueue-tasks")
    client.meta.events.register(
        "provide-client-params.sqs.SendMessage", lambda params, **_: calls.append(dict(params))
    )
    return calls


def depth(sqs: Any) -> dict[str, str]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"]
    attributes = sqs.get_queue_attributes(QueueUrl=QUEUE_URL, AttributeNames=names)
    return {
        name.removeprefix("ApproximateNumberOf"): attributes["Attributes"][name] for name in names
    }


def test_a_countdown_is_sent_with_delay_seconds(app: Flask, channel: Any, sqs: Any) -> None:
    calls = send_calls(channel)

    app.extensions["celery"].send_task("noop", countdown=30, connection=channel.connection.client)

    [call] = calls
    assert call["DelaySeconds"] == 30
    assert depth(sqs) == {"Messages": "0", "MessagesDelayed": "1"}


def test_a_task_without_eta_is_sent_without_delay(app: Flask, channel: Any) -> None:
    calls = send_calls(channel)

    app.extensions["celery"].send_task("noop", connection=channel.connection.client)

    [call] = calls
    assert "DelaySeconds" not in call


def received_now(sqs: Any, eta: datetime, task_id: str = "t-delayed") -> dict[str, Any]:
    """A task message due at `eta`, as a worker receives it (sent here without a delay)."""
    message = {
        "body": base64.b64encode(b"[[], {}, {}]").decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"id": task_id, "task": "noop", "eta": eta.isoformat()},
        "properties": {"body_encoding": "base64", "delivery_info": {"routing_key": "x"}},
    }
    sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=json.dumps(message))
    [received] = sqs.receive_message(QueueUrl=QUEUE_URL)["Messages"]
    return dict(received)


def test_a_delay_beyond_900_seconds_hops_in_sqs_instead_of_reaching_celery(
    channel: Any, sqs: Any
) -> None:
    calls = send_calls(channel)
    eta = datetime.now(UTC) + timedelta(seconds=2000)
    received = received_now(sqs, eta)

    assert channel._delayed_again(QUEUE_URL, "taskqueue-tasks", received) is True

    [hop] = calls
    assert hop["DelaySeconds"] == 900
    assert json.loads(base64.b64decode(hop["MessageBody"]))["headers"]["eta"] == eta.isoformat()
    # The received copy is gone: only the hop's copy waits, delayed, none in flight.
    attributes = sqs.get_queue_attributes(QueueUrl=QUEUE_URL, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_the_last_hop_takes_the_remaining_delay(channel: Any, sqs: Any) -> None:
    calls = send_calls(channel)
    received = received_now(sqs, datetime.now(UTC) + timedelta(seconds=120))

    assert channel._delayed_again(QUEUE_URL, "taskqueue-tasks", received) is True

    assert calls[0]["DelaySeconds"] in {120, 121}


def test_a_due_message_goes_to_celery(channel: Any, sqs: Any) -> None:
    calls = send_calls(channel)
    received = received_now(sqs, datetime.now(UTC) + timedelta(seconds=0.5))

    assert channel._delayed_again(QUEUE_URL, "taskqueue-tasks", received) is False
    assert calls == []


def test_a_cancelled_task_stops_hopping(app: Flask, channel: Any, sqs: Any) -> None:
    celery = app.extensions["celery"]
    due = datetime.now(UTC) + timedelta(days=3)
    mark_queued(celery, "t-cancelled", CLIENT, due=due)
    assert cancel_queued(celery, "t-cancelled", CLIENT).state == "REVOKED"
    calls = send_calls(channel)
    received = received_now(sqs, due, task_id="t-cancelled")

    assert channel._delayed_again(QUEUE_URL, "taskqueue-tasks", received) is True

    assert calls == []  # dropped, not sent again
    attributes = sqs.get_queue_attributes(QueueUrl=QUEUE_URL, AttributeNames=["All"])
    assert {
        attributes["Attributes"][f"ApproximateNumberOf{kind}"]
        for kind in ("Messages", "MessagesDelayed", "MessagesNotVisible")
    } == {"0"}


def test_records_outlast_the_due_time(app: Flask, dynamodb: Any) -> None:
    celery = app.extensions["celery"]
    settings = app.extensions["taskqueue.settings"]
    due = datetime.now(UTC) + timedelta(days=6)
    mark_queued(celery, "t-later", CLIENT, due=due)

    def ttl() -> float:
        item = dynamodb.get_item(
            TableName=settings.results_table, Key=celery.backend.item_key("t-later")
        )
        return float(item["Item"]["ttl"]["N"])

    assert ttl() >= due.timestamp() + settings.result_expires - 1
    cancel_queued(celery, "t-later", CLIENT)  # the REVOKED record must outlast the due time too
    assert ttl() >= due.timestamp() + settings.result_expires - 60


def test_a_hop_sends_the_copy_before_it_deletes_what_it_received(channel: Any, sqs: Any) -> None:
    """shared/README.md: the copy goes first, so a lost delete only duplicates the message."""
    received = received_now(sqs, datetime.now(UTC) + timedelta(seconds=2000))
    made: list[str] = []
    channel.sqs(queue="taskqueue-tasks").meta.events.register(
        "before-call.sqs", lambda model, **_: made.append(model.name)
    )

    assert channel._delayed_again(QUEUE_URL, "taskqueue-tasks", received) is True

    assert made == ["SendMessage", "DeleteMessage"]
