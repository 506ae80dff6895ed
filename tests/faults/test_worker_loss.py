"""A worker killed or stopped mid-task loses nothing (late ack, release on restore)."""

from __future__ import annotations

import signal
import time

import psutil
import pytest

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.faults.conftest import enqueue, state, wait_for_states

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def test_sigkill_of_the_whole_worker_loses_no_task(stack: LocalStack) -> None:
    stack.start_web()
    worker = stack.start_worker(WORKER_CONCURRENCY="2")
    task_ids = [enqueue(stack, "long_task", duration=2) for _ in range(6)]
    wait_until(
        lambda: sum(state(stack, t) in {"STARTED", "PROGRESS"} for t in task_ids) >= 2,
        30,
        "two tasks in flight",
    )

    worker.kill_group(signal.SIGKILL)  # main process and pool, no chance to clean up
    worker.popen.wait(10)
    stack.start_worker(WORKER_CONCURRENCY="2")

    states = wait_for_states(stack, task_ids, {"SUCCESS"}, timeout=90)
    assert set(states.values()) == {"SUCCESS"}


def test_sigterm_lets_the_running_task_finish(stack: LocalStack) -> None:
    stack.start_web()
    worker = stack.start_worker(WORKER_CONCURRENCY="1")
    task_id = enqueue(stack, "long_task", duration=3)
    wait_until(lambda: state(stack, task_id) == "PROGRESS", 20, "the task running")

    worker.send_signal(signal.SIGTERM)  # what ECS sends on scale-in or deploy

    assert worker.popen.wait(30) == 0
    assert state(stack, task_id) == "SUCCESS"
    assert "Completed work on 3" in worker.log()


def test_a_killed_pool_process_puts_its_task_back_at_once(stack: LocalStack) -> None:
    stack.start_web()
    worker = stack.start_worker(WORKER_CONCURRENCY="1")
    task_id = enqueue(stack, "long_task", duration=2)
    wait_until(lambda: state(stack, task_id) == "PROGRESS", 20, "the task running")
    [pool_process] = psutil.Process(worker.pid).children()

    pool_process.kill()
    killed_at = time.monotonic()
    wait_for_states(stack, [task_id], {"SUCCESS"}, timeout=60)
    done_after = time.monotonic() - killed_at

    print(f"task put back and finished {done_after:.1f}s after its pool process was killed")
    assert worker.popen.poll() is None  # the worker itself lives on
    assert worker.log().count("Working... 1/2") == 2  # run again from the start
    # Released at once: kombu alone hides a restored message for wait_time_seconds (20 s),
    # and the idempotency lease would hold it for the visibility timeout (6 s here).
    assert done_after < 8
