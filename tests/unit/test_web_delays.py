"""POST /tasks with a delay: SCHEDULED with its due time, sent with eta and DelaySeconds."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.unit.conftest import QUEUE_URL


def delayed_messages(sqs: Any) -> str:
    attributes = sqs.get_queue_attributes(
        QueueUrl=QUEUE_URL, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    return str(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"])


def test_a_delayed_task_is_scheduled_with_its_due_time(client: FlaskClient, sqs: Any) -> None:
    before = datetime.now(UTC)
    response = client.post("/tasks", json={"task": "noop", "delay_seconds": 600})

    assert response.status_code == 202
    status = client.get(response.json["status_url"]).json
    assert status["state"] == "SCHEDULED"
    due = datetime.fromisoformat(status["due"])
    assert before + timedelta(seconds=599) <= due <= datetime.now(UTC) + timedelta(seconds=600)
    assert status["due"].endswith("Z")
    assert delayed_messages(sqs) == "1"  # sent with DelaySeconds: nothing to receive yet
    assert "Messages" not in sqs.receive_message(QueueUrl=QUEUE_URL)


def test_not_before_is_the_due_time_and_the_message_carries_it_as_eta(
    client: FlaskClient, sqs: Any
) -> None:
    due = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    local = due.astimezone(timezone(timedelta(hours=2))).isoformat()

    response = client.post("/tasks", json={"task": "noop", "not_before": local})

    status = client.get(response.json["status_url"]).json
    assert (status["state"], datetime.fromisoformat(status["due"])) == ("SCHEDULED", due)
    assert delayed_messages(sqs) == "1"


def test_delay_zero_and_a_due_time_just_passed_queue_at_once(client: FlaskClient, sqs: Any) -> None:
    just_passed = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    for extra in ({"delay_seconds": 0}, {"not_before": just_passed}):
        response = client.post("/tasks", json={"task": "noop", **extra})

        status = client.get(response.json["status_url"]).json
        assert (status["state"], status["due"]) == ("PENDING", None)
    messages = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 2
    assert all(json.loads(base64.b64decode(m["Body"]))["headers"]["eta"] is None for m in messages)


def test_cancelling_a_scheduled_task_revokes_it(client: FlaskClient) -> None:
    task_id = client.post("/tasks", json={"task": "noop", "delay_seconds": 600}).json["id"]

    response = client.delete(f"/tasks/{task_id}")

    assert response.status_code == 200
    assert (response.json["state"], response.json["due"]) == ("REVOKED", None)
    assert client.get(f"/tasks/{task_id}").json["state"] == "REVOKED"


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ({"delay_seconds": 604_801}, "delay_seconds", "at most 604800 seconds (7 days"),
        ({"delay_seconds": -1}, "delay_seconds", "greater than or equal to 0"),
        ({"not_before": "2020-01-01T00:00:00Z"}, "not_before", "in the past"),
        ({"not_before": "2999-01-01T00:00:00Z"}, "not_before", "at most 604800 seconds"),
        ({"not_before": "2030-01-01T00:00:00"}, "not_before", "timezone"),
        ({"delay_seconds": 5, "not_before": "2030-01-01T00:00:00Z"}, "not_before", "not both"),
    ],
)
def test_bad_delays_are_a_422_naming_the_field_and_the_limit(
    client: FlaskClient, sqs: Any, extra: dict[str, Any], field: str, words: str
) -> None:
    response = client.post("/tasks", json={"task": "noop", **extra})

    assert response.status_code == 422
    [error] = response.json["errors"]
    assert error["field"] == field and words in error["message"], error
    assert "Messages" not in sqs.receive_message(QueueUrl=QUEUE_URL)
