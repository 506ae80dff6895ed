"""DELETE /tasks/<id>: a task no run holds is cancelled (a worker then drops it unrun); a
running one is asked to stop."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from celery.exceptions import Ignore
from flask import Flask
from flask.testing import FlaskClient
from taskqueue.runtime.run_once import claim, release, renew
from taskqueue.stores.cancellation import mark_revoked


@pytest.fixture
def celery(app: Flask) -> Celery:
    celery_app: Celery = app.extensions["celery"]
    return celery_app


def queued(client: FlaskClient) -> str:
    """A task queued through the web (no worker runs here)."""
    task_id: str = client.post("/tasks", json={"task": "noop"}).json["id"]
    return task_id


def delivery(celery: Celery, task_id: str) -> Any:
    """What a worker's `run_once` sees of one delivery of the task."""
    return SimpleNamespace(app=celery, request=SimpleNamespace(id=task_id, hostname="w1"))


def test_a_queued_task_is_cancelled_and_shows_revoked(client: FlaskClient) -> None:
    task_id = queued(client)

    response = client.delete(f"/tasks/{task_id}")

    assert response.status_code == 200
    expected = {
        "id": task_id,
        "queue": "default",
        "state": "REVOKED",
        "progress": None,
        "result": None,
        "result_url": None,
        "error": "TaskRevokedError: cancelled before it started",
        "due": None,
        "reason": None,
    }
    assert response.json == expected
    assert client.get(f"/tasks/{task_id}").json == expected
    assert client.delete(f"/tasks/{task_id}").status_code == 200  # again: same answer


def test_a_worker_drops_a_cancelled_task_without_running_it(
    client: FlaskClient, celery: Celery
) -> None:
    task_id = queued(client)
    client.delete(f"/tasks/{task_id}")

    with pytest.raises(Ignore):  # acknowledged, the body never runs
        claim(delivery(celery, task_id), lease_seconds=60)

    assert client.get(f"/tasks/{task_id}").json["state"] == "REVOKED"


def test_a_finished_task_is_too_late_to_cancel(client: FlaskClient, celery: Celery) -> None:
    state = "SUCCESS"
    task_id = queued(client)
    claim(delivery(celery, task_id), lease_seconds=60)
    celery.backend.store_result(task_id, None, "SUCCESS")

    response = client.delete(f"/tasks/{task_id}")

    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert f"is {state}" in response.json["detail"]
    assert client.get(f"/tasks/{task_id}").json["state"] == state


def test_a_running_task_is_asked_to_stop_and_its_next_renewal_sees_it(
    client: FlaskClient, celery: Celery
) -> None:
    task_id = queued(client)
    claim(delivery(celery, task_id), lease_seconds=60)
    assert renew(celery, task_id, lease_seconds=60) is False  # no request yet

    response = client.delete(f"/tasks/{task_id}")

    assert response.status_code == 202
    assert response.json["state"] == "STARTED"  # until the worker stops it
    assert renew(celery, task_id, lease_seconds=60) is True
    mark_revoked(celery, task_id)  # what run_once does once the body stopped
    body = client.get(f"/tasks/{task_id}").json
    assert (body["state"], body["error"]) == ("REVOKED", "TaskRevokedError: cancelled while it ran")
    assert client.delete(f"/tasks/{task_id}").status_code == 200  # REVOKED: same answer
    with pytest.raises(Ignore):  # a redelivery is dropped
        claim(delivery(celery, task_id), lease_seconds=60)


def test_a_task_waiting_for_redelivery_after_a_failure_can_be_cancelled(
    client: FlaskClient, celery: Celery
) -> None:
    task_id = queued(client)
    claim(delivery(celery, task_id), lease_seconds=60)
    release(celery, task_id)  # what run_once does when the body raises
    celery.backend.store_result(task_id, ValueError("boom"), "FAILURE")

    assert client.delete(f"/tasks/{task_id}").json["state"] == "REVOKED"
    with pytest.raises(Ignore):
        claim(delivery(celery, task_id), lease_seconds=60)


@pytest.mark.parametrize("task_id", ["never-queued", "not a task id"])
def test_an_unknown_id_is_404(client: FlaskClient, task_id: str) -> None:
    response = client.delete(f"/tasks/{task_id}")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_a_cancelled_record_is_kept_task_max_delay_longer_than_other_records(
    app: Flask, client: FlaskClient, celery: Celery
) -> None:
    """A queued task's message may still be delayed that long (shared/README.md)."""
    settings = app.extensions["taskqueue.settings"]
    kept, cancelled = queued(client), queued(client)

    client.delete(f"/tasks/{cancelled}")

    def ttl(task_id: str) -> int:
        item = celery.backend.client.get_item(
            TableName=celery.backend.table_name, Key=celery.backend.item_key(task_id)
        )["Item"]
        return int(item["ttl"]["N"])

    assert ttl(cancelled) - ttl(kept) >= settings.task_max_delay
    assert ttl(cancelled) - ttl(kept) <= settings.task_max_delay + 5  # seconds between the two
