"""Cancelling through gunicorn: the real worker drops a cancelled task and runs the rest."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from harness.processes import wait_until
from harness.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def queue(stack: LocalStack, **params: Any) -> str:
    response = requests.post(
        f"{stack.web_url}/tasks", json={"task": "long_task", "params": params}, timeout=10
    )
    assert response.status_code == 202
    task_id: str = response.json()["id"]
    return task_id


def state(stack: LocalStack, task_id: str) -> str:
    body = requests.get(f"{stack.web_url}/tasks/{task_id}", timeout=5).json()
    result: str = body["state"]
    return result


def cancel(stack: LocalStack, task_id: str) -> requests.Response:
    return requests.delete(f"{stack.web_url}/tasks/{task_id}", timeout=10)


def test_a_cancelled_task_is_dropped_by_the_worker_and_the_others_run(
    stack: LocalStack,
) -> None:
    stack.start_aws()
    stack.start_web()
    cancelled = queue(stack, duration=1)  # no worker yet: both wait in the queue
    kept = queue(stack, duration=1)

    response = cancel(stack, cancelled)
    assert response.status_code == 200
    assert response.json()["state"] == "REVOKED"

    worker = stack.start_worker()
    wait_until(lambda: state(stack, kept) == "SUCCESS", 30, "the other task to succeed")
    wait_until(lambda: stack.queue_depth() == 0, 30, "the cancelled message to be dropped")

    assert state(stack, cancelled) == "REVOKED"
    log = worker.log()
    assert f"task {cancelled} was cancelled before it started: dropped" in log
    assert log.count("Completed work on 1") == 1  # the kept task's body only


def test_a_running_task_is_too_late_to_cancel(stack: LocalStack) -> None:
    stack.start_aws()
    stack.start_web()
    stack.start_worker()
    running = queue(stack, duration=3)
    wait_until(lambda: state(stack, running) in {"STARTED", "PROGRESS"}, 30, "the task to start")

    response = cancel(stack, running)

    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/problem+json"
    wait_until(lambda: state(stack, running) == "SUCCESS", 30, "the task to finish anyway")
