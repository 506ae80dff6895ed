"""A dead letter's body, decoded back into the Celery task it carries."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from taskqueue.catalogue.registry import TASKS
from taskqueue.catalogue.schedules import Schedule, fire_message
from taskqueue.runtime.celery_message import CeleryTask, decode


def b64(data: Any) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def sqs_body(task: str, task_id: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    """A body as kombu's SQS transport writes a Celery protocol-2 message."""
    envelope = {
        "body": b64([args, kwargs, {"callbacks": None, "errbacks": None, "chain": None}]),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"lang": "py", "task": task, "id": task_id, "retries": 0},
        "properties": {"body_encoding": "base64", "delivery_tag": "x"},
    }
    return b64(envelope)


def test_a_celery_message_gives_its_task_name_id_and_arguments() -> None:
    task = decode(sqs_body("long_task", "5f0c", [], {"duration": 3}))

    assert task == CeleryTask(name="long_task", task_id="5f0c", args=[], kwargs={"duration": 3})
    assert task.arguments() == "duration=3"


def test_positional_and_keyword_arguments_read_like_a_call() -> None:
    task = decode(sqs_body("fail", "1", [1, "x"], {"message": "boom"}))

    assert task is not None
    assert task.arguments() == "1, 'x', message='boom'"


def test_an_envelope_not_base64_encoded_is_read_too() -> None:
    body = base64.b64decode(sqs_body("noop", "2", [], {})).decode()

    assert decode(body) == CeleryTask(name="noop", task_id="2", args=[], kwargs={})


@pytest.mark.parametrize(
    "body", ["hello", "", "{}", b64({"headers": {}}), b64([1, 2]), "aGVsbG8=", "not base64 ==="]
)
def test_anything_else_is_not_a_celery_task(body: str) -> None:
    assert decode(body) is None


def test_a_schedules_fire_is_read_too() -> None:
    """A fire's body is plain JSON, its inner body too
    (taskqueue.catalogue.schedules.message_template)."""
    spec = TASKS["long_task"]
    nightly = Schedule(
        name="nightly",
        spec=spec,
        params=spec.params.model_validate({"duration": 5}),
        expression="cron(0 3 * * ? *)",
    )
    body = fire_message(nightly.message_template("q"), datetime(2026, 12, 1, 3, 0, tzinfo=UTC))

    assert decode(body) == CeleryTask(
        name="long_task",
        task_id="schedule-nightly-2026-12-01T03:00:00Z",
        args=[],
        kwargs={"duration": 5},
    )
