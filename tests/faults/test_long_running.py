"""Long tasks on a short base visibility: the heartbeat keeps a running task's message from
a second worker, and a dead worker's task is back within about one base visibility."""

from __future__ import annotations

import signal
import time

import pytest

from harness.processes import Process, wait_until
from harness.stack import LocalStack
from tests.faults.conftest import enqueue, state, wait_for_states

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

# Base visibility 6 s (tests/short_limits.py); long_task may run 20 s here (its limits: 24/25).
LONG = {"TASK_MAX_DURATION": "20"}


def start_worker(stack: LocalStack, name: str) -> Process:
    """A worker of one pool process, with its own log and heartbeat file."""
    return stack.start_worker(
        name,
        WORKER_CONCURRENCY="1",
        WORKER_HEARTBEAT_FILE=str(stack.work_dir / f"{name}-heartbeat"),
    )


def start_workers(stack: LocalStack, count: int) -> list[Process]:
    """`count` workers of one pool process each, polling the same queue."""
    return [start_worker(stack, f"worker-{index}") for index in range(count)]


def runs(workers: list[Process], duration: int) -> int:
    """How many times long_task(duration) started, across the workers' logs."""
    return sum(worker.log().count(f"Working... 1/{duration}") for worker in workers)


def test_a_task_three_times_longer_than_the_visibility_runs_once(stack: LocalStack) -> None:
    stack.env.update(LONG)
    stack.start_web()
    workers = start_workers(stack, 2)
    visibility = stack.settings.queue_visibility_timeout
    duration = 3 * visibility

    task_id = enqueue(stack, "long_task", duration=duration)
    wait_for_states(stack, [task_id], {"SUCCESS"}, timeout=duration + 30)

    assert runs(workers, duration) == 1
    assert sum(worker.log().count(f"Completed work on {duration}") for worker in workers) == 1
    assert stack.queue_depth() == 0


def test_a_sigkilled_worker_s_task_starts_again_within_one_base_visibility(
    stack: LocalStack,
) -> None:
    stack.env.update(LONG)
    stack.start_web()
    [first] = start_workers(stack, 1)
    task_id = enqueue(stack, "long_task", duration=10)
    wait_until(lambda: state(stack, task_id) == "PROGRESS", 30, "the task running")
    second = start_worker(stack, "second-worker")

    first.kill_group(signal.SIGKILL)  # main process and pool: no clean-up, no hand-back
    killed_at = time.monotonic()
    wait_until(lambda: "Working... 1/10" in second.log(), 30, "the task to start again")
    restarted_after = time.monotonic() - killed_at
    wait_for_states(stack, [task_id], {"SUCCESS"}, timeout=40)

    visibility = stack.settings.queue_visibility_timeout
    print(f"SIGKILL to restart on another worker: {restarted_after:.1f}s (base {visibility}s)")
    assert restarted_after <= visibility + 4
    assert "Completed work on 10" in second.log()


def test_cancel_stops_a_running_task_which_cleans_up_and_never_runs_again(
    stack: LocalStack,
) -> None:
    stack.env.update(LONG)
    stack.start_web()
    api = stack.api()
    workers = start_workers(stack, 2)
    task_id = enqueue(stack, "long_task", duration=20)
    wait_until(lambda: state(stack, task_id) == "PROGRESS", 30, "the task running")

    response = api.delete_task(task_id)
    asked_at = time.monotonic()

    assert response.status_code == 202
    assert response.json()["state"] == "PROGRESS"
    wait_until(lambda: state(stack, task_id) == "REVOKED", 15, "the task stopped")
    stopped_after = time.monotonic() - asked_at
    print(f"cancel to REVOKED: {stopped_after:.1f}s")
    log = "".join(worker.log() for worker in workers)
    assert "Stopped at" in log  # its clean-up ran
    assert f"task {task_id} was cancelled while it ran: stopped" in log
    assert api.status(task_id)["error"] == "TaskRevokedError: cancelled while it ran"
    # Acknowledged: nothing left, even after a whole base visibility more.
    time.sleep(stack.settings.queue_visibility_timeout + 2)
    assert stack.queue_depth() == 0
    assert runs(workers, 20) == 1
    assert "Completed work on 20" not in "".join(worker.log() for worker in workers)
    assert state(stack, task_id) == "REVOKED"


def test_sigterm_hands_a_long_task_back_to_another_worker_within_seconds(
    stack: LocalStack,
) -> None:
    stack.env.update(LONG)
    stack.start_web()
    [stopping] = start_workers(stack, 1)
    task_id = enqueue(stack, "long_task", duration=15)
    wait_until(lambda: state(stack, task_id) == "PROGRESS", 30, "the task running")
    other = start_worker(stack, "other-worker")

    stopping.send_signal(signal.SIGTERM)  # a Spot interruption, or `make worker` Ctrl-C
    stopped_at = time.monotonic()
    wait_until(lambda: "Working... 1/15" in other.log(), 20, "the task to start elsewhere")
    started_after = time.monotonic() - stopped_at

    print(f"SIGTERM to restart on another worker: {started_after:.1f}s")
    assert started_after < 5  # not a visibility timeout, not the soft shutdown
    assert f"task {task_id} may not finish before the worker stops: handed back" in stopping.log()
    assert stopping.popen.wait(30) == 0
    wait_for_states(stack, [task_id], {"SUCCESS"}, timeout=40)
    assert "Completed work on 15" in other.log()
    assert "Completed work on 15" not in stopping.log()
