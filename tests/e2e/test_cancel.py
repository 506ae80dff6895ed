"""Cancelling through gunicorn: the real worker drops a cancelled task and runs the rest."""

from __future__ import annotations

import pytest
from taskqueue_cli.api import TaskApi

from harness.processes import wait_until
from harness.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_a_cancelled_task_is_dropped_by_the_worker_and_the_others_run(
    stack: LocalStack, api: TaskApi
) -> None:
    stack.start_aws()
    stack.start_web()
    cancelled = api.enqueue("long_task", {"duration": 1})  # no worker yet: both wait
    kept = api.enqueue("long_task", {"duration": 1})

    response = api.delete_task(cancelled)
    assert response.status_code == 200
    assert response.json()["state"] == "REVOKED"

    worker = stack.start_worker()
    wait_until(lambda: api.state(kept) == "SUCCESS", 30, "the other task to succeed")
    wait_until(lambda: stack.queue_depth() == 0, 30, "the cancelled message to be dropped")

    assert api.state(cancelled) == "REVOKED"
    log = worker.log()
    assert f"task {cancelled} was cancelled before it started: dropped" in log
    assert log.count("Completed work on 1") == 1  # the kept task's body only


def test_a_finished_task_is_too_late_to_cancel(stack: LocalStack, api: TaskApi) -> None:
    # A running task is asked to stop instead (tests/faults/test_long_running.py).
    stack.start_aws()
    stack.start_web()
    stack.start_worker()
    finished = api.enqueue("long_task", {"duration": 1})
    wait_until(lambda: api.state(finished) == "SUCCESS", 30, "the task to finish")

    response = api.delete_task(finished)

    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/problem+json"
    assert api.state(finished) == "SUCCESS"
