"""The web's task endpoints with Flask's test client, against in-process moto."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from taskqueue.runtime import dead_letters
from taskqueue.runtime.run_once import claim
from taskqueue.stores.results import mark_queued, read_status

from tests.unit.conftest import CLIENT, QUEUE_URL


def received(sqs: Any) -> list[dict[str, Any]]:
    """The Celery messages waiting in the queue (kombu base64-encodes the body)."""
    messages = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=10)["Messages"]
    return [json.loads(base64.b64decode(m["Body"])) for m in messages]


def test_post_tasks_queues_one_message_and_answers_202(client: FlaskClient, sqs: Any) -> None:
    response = client.post("/tasks", json={"task": "long_task", "params": {"duration": 2}})

    assert response.status_code == 202
    task_id = response.json["id"]
    assert response.json == {"id": task_id, "status_url": f"/tasks/{task_id}"}
    assert response.headers["Location"] == f"/tasks/{task_id}"
    [message] = received(sqs)
    assert message["headers"]["task"] == "long_task"
    assert message["headers"]["id"] == task_id
    assert json.loads(base64_body(message))[1] == {"duration": 2}


def base64_body(message: dict[str, Any]) -> str:
    return base64.b64decode(message["body"]).decode()


def test_a_queued_task_is_pending_and_an_unknown_id_is_404(client: FlaskClient) -> None:
    task_id = client.post("/tasks", json={"task": "noop"}).json["id"]

    assert client.get(f"/tasks/{task_id}").json == {
        "id": task_id,
        "queue": "default",
        "state": "PENDING",
        "progress": None,
        "result": None,
        "result_url": None,
        "error": None,
        "due": None,
        "reason": None,
    }
    missing = client.get("/tasks/never-queued")
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"


def test_status_shows_progress_result_and_error(app: Flask, client: FlaskClient) -> None:
    celery = app.extensions["celery"]
    for task_id in ("t-progress", "t-done", "t-failed"):  # queued by the client, as the web does
        mark_queued(celery, task_id, CLIENT)
    celery.backend.store_result("t-progress", {"current": 2, "total": 5}, "PROGRESS")
    celery.backend.store_result("t-done", {"duration": 5}, "SUCCESS")
    celery.backend.store_result("t-failed", ValueError("boom"), "FAILURE")

    assert client.get("/tasks/t-progress").json["progress"] == {"current": 2, "total": 5}
    assert client.get("/tasks/t-done").json["result"] == {"duration": 5}
    failed = client.get("/tasks/t-failed").json
    assert (failed["state"], failed["error"]) == ("FAILURE", "ValueError: boom")
    assert read_status(celery, "t-unknown") is None


def test_a_dead_lettered_task_shows_why_and_is_listed_by_that_state(
    app: Flask, client: FlaskClient
) -> None:
    celery = app.extensions["celery"]
    mark_queued(celery, "t-dead", CLIENT, task="fail")
    mark_queued(celery, "t-done", CLIENT, task="noop")
    celery.backend.store_result("t-done", None, "SUCCESS")
    run = claim(SimpleNamespace(app=celery, request=SimpleNamespace(id="t-dead", hostname="w1")), 0)
    dead_letters.record(
        celery.backend, "t-dead", run.attempt, "failed 3 times", "RuntimeError: boom", {}
    )

    status = client.get("/tasks/t-dead").json
    listed = client.get("/tasks?state=DEAD_LETTERED").json["items"]

    assert (status["state"], status["reason"], status["error"]) == (
        "DEAD_LETTERED",
        "failed 3 times",
        "RuntimeError: boom",
    )
    assert [(task["id"], task["state"]) for task in listed] == [("t-dead", "DEAD_LETTERED")]


def test_a_schedules_fire_id_with_its_time_is_a_task_id(app: Flask, client: FlaskClient) -> None:
    fire_id = "schedule-queue-report-2026-12-01T03:00:00Z"  # taskqueue.catalogue.schedules.task_id
    mark_queued(app.extensions["celery"], fire_id, CLIENT)

    for path in (f"/tasks/{fire_id}", "/tasks/schedule-queue-report-2026-12-01T03%3A00%3A00Z"):
        status = client.get(path)
        assert status.status_code == 200, path
        assert status.json["id"] == fire_id


def test_the_seed_route_queues_the_long_task(client: FlaskClient, sqs: Any) -> None:
    response = client.get("/sqs/celery/3")

    assert response.status_code == 202
    [message] = received(sqs)
    assert message["headers"]["task"] == "long_task"
    assert json.loads(base64_body(message))[1] == {"duration": 3}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "nope"}, "task"),
        ({"task": "long_task", "params": {"duration": 0}}, "params.duration"),
        ({"task": "long_task", "params": {"duration": 1, "x": 1}}, "params.x"),
        ({"task": "noop", "params": {"x": 1}}, "params.x"),
    ],
)
def test_invalid_requests_name_the_field_and_queue_nothing(
    client: FlaskClient, sqs: Any, body: dict[str, Any], field: str
) -> None:
    response = client.post("/tasks", json=body)

    assert response.status_code == 422
    assert field in [error["field"] for error in response.json["errors"]]
    assert "Messages" not in sqs.receive_message(QueueUrl=QUEUE_URL)


def test_healthz_answers_without_the_broker(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert (response.status_code, response.json) == (200, {"status": "ok"})


def test_an_unexpected_error_is_problem_json_without_a_stack_trace(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("web_service.blueprints.tasks.read_status", explode)

    response = client.get("/tasks/any")

    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_unknown_routes_and_methods_are_problem_json(client: FlaskClient) -> None:
    assert client.get("/nope").mimetype == "application/problem+json"
    assert client.delete("/tasks").status_code == 405
