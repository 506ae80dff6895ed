"""A task's whole path through real processes: gunicorn → SQS (moto) → celery worker → DynamoDB."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from taskqueue_cli.api import TaskApi

from harness.processes import wait_until
from harness.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def poll_states(api: TaskApi, status_url: str, until: str, timeout: float) -> list[dict[str, Any]]:
    """Every distinct status body seen until the state is `until`."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(status_url, timeout=5).json()
        if not seen or seen[-1] != body:
            seen.append(body)
        if body["state"] == until:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"never reached {until}: {seen}")


def test_queued_task_runs_on_the_worker_with_progress_then_success(
    running_stack: LocalStack, running_api: TaskApi
) -> None:
    response = running_api.post_task("long_task", {"duration": 3})

    assert response.status_code == 202
    body = response.json()
    assert response.headers["Location"] == body["status_url"] == f"/tasks/{body['id']}"
    seen = poll_states(running_api, body["status_url"], "SUCCESS", timeout=30)
    progress = [s["progress"] for s in seen if s["state"] == "PROGRESS"]
    assert progress, f"no PROGRESS state seen: {seen}"
    assert all(p["total"] == 3 and 1 <= p["current"] <= 3 for p in progress)
    assert seen[-1] == {
        "id": body["id"],
        "queue": "default",
        "state": "SUCCESS",
        "progress": None,
        "result": {"duration": 3},
        "result_url": None,
        "error": None,
        "due": None,
        "reason": None,
    }
    worker_log = running_stack.processes[1].log()
    assert "Working... 1/3" in worker_log and "Working... 3/3" in worker_log
    assert "Completed work on 3" in worker_log


def test_the_seed_route_queues_the_long_task(running_api: TaskApi) -> None:
    response = running_api.get("/sqs/celery/1")

    assert response.status_code == 202
    seen = poll_states(running_api, response.json()["status_url"], "SUCCESS", timeout=30)
    assert seen[-1]["result"] == {"duration": 1}


def test_an_id_that_was_never_queued_is_404(running_api: TaskApi) -> None:
    response = running_api.get_task("no-such-task")

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"


def test_a_queued_task_is_pending_until_a_worker_takes_it(running_api: TaskApi) -> None:
    response = running_api.post_task("noop", {})

    first = running_api.get(response.json()["status_url"], timeout=5)
    assert first.status_code == 200
    assert first.json()["state"] in {"PENDING", "STARTED", "SUCCESS"}
    seen = poll_states(running_api, response.json()["status_url"], "SUCCESS", timeout=30)
    assert seen[-1]["result"] is None


def test_web_and_worker_log_json_lines_with_request_and_task_ids(
    running_stack: LocalStack, running_api: TaskApi
) -> None:
    response = running_api.post_task("noop", {})
    task_id = response.json()["id"]
    request_id = response.headers["X-Request-ID"]
    poll_states(running_api, response.json()["status_url"], "SUCCESS", timeout=30)

    web, worker = running_stack.processes[2], running_stack.processes[1]
    wait_until(lambda: task_id in worker.log(), 10, "the worker's log of the task")
    web_lines = [line for line in web.log().splitlines() if request_id in line]
    assert any(f'"task_id": "{task_id}"' in line for line in web_lines)
    assert any(f'"task_id": "{task_id}"' in line for line in worker.log().splitlines())


def complete_lines(text: str) -> list[str]:
    """The lines of a log that were written completely (the last may still be in progress)."""
    return text.splitlines()[: text.count("\n")]


def test_once_started_every_line_is_json_and_names_its_request_or_its_task(
    running_stack: LocalStack, running_api: TaskApi
) -> None:
    web, worker = running_stack.processes[2], running_stack.processes[1]
    web_before, worker_before = len(complete_lines(web.log())), len(complete_lines(worker.log()))

    response = running_api.post_task("long_task", {"duration": 1})
    task_id, request_id = response.json()["id"], response.headers["X-Request-ID"]
    poll_states(running_api, response.json()["status_url"], "SUCCESS", timeout=30)
    wait_until(
        lambda: any(
            "task long_task succeeded" in line and task_id in line
            for line in worker.log().splitlines()
        ),
        10,
        "the run's metrics line",
    )

    # json.loads fails the test on any line that is not JSON.
    web_lines = [json.loads(line) for line in complete_lines(web.log())[web_before:]]
    worker_lines = [json.loads(line) for line in complete_lines(worker.log())[worker_before:]]
    assert all("request_id" in line for line in web_lines)
    assert any(line["request_id"] == request_id for line in web_lines)
    about_the_task = [line for line in worker_lines if task_id in json.dumps(line)]
    # Celery's main process logs the receipt before a pool process runs the task: that line
    # has the id in its text only. Every line of the run names the task.
    run = [line for line in about_the_task if line["logger"] != "celery.worker.strategy"]
    assert len(run) >= 4  # Working... 1/1, Completed, succeeded, the metrics record
    assert all(line.get("task_id") == task_id for line in run)
