"""A task whose message ends in the dead-letter queue says so: DEAD_LETTERED with the reason,
within a bounded time, in GET /tasks/<id>, the list and its state filter; `dlq redrive` puts
it back to PENDING and it runs. A lost worker is counted apart from a failure, so a healthy
task whose workers are killed under it still ends SUCCESS (taskqueue.runtime.dead_letters)."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.processes import Process, wait_until
from harness.stack import LocalStack
from tests.faults.conftest import dlq_messages, enqueue, state, wait_for_states

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

TASKQUEUE = str(Path(sys.executable).parent / "taskqueue")
DEAD = "DEAD_LETTERED"
RUNNING = {"STARTED", "PROGRESS"}


def taskqueue(stack: LocalStack, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `taskqueue` CLI against the stack, as its client."""
    return subprocess.run(
        [TASKQUEUE, *args],
        env={**stack.env, "TASKQUEUE_API_KEY": stack.api_key},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def redrive(stack: LocalStack, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`taskqueue dlq redrive`, as an operator runs it."""
    return taskqueue(stack, cwd, "dlq", "redrive")


def listed_state(stack: LocalStack, task_id: str, state_filter: str | None = None) -> str | None:
    """The task's state in GET /tasks (with `?state=`), or None when it is not listed."""
    response = stack.api().list_tasks(state=state_filter, limit=100)
    assert response.status_code == 200, response.text
    states = {item["id"]: item["state"] for item in response.json()["items"]}
    return states.get(task_id)


def body_runs(process: Process, task_id: str, line: str) -> int:
    """Lines `line` the task's body logged in the process's log."""
    return sum(line in entry and task_id in entry for entry in process.log().splitlines())


def started_on(worker: Process, task_id: str) -> Callable[[], bool]:
    """Whether the task's body started on `worker`."""
    return lambda: body_runs(worker, task_id, "Working... 1/") > 0


def running_or_dead(stack: LocalStack, worker: Process, task_id: str) -> Callable[[], bool]:
    """Whether the task's body started on `worker`, or the task is DEAD_LETTERED."""
    return lambda: body_runs(worker, task_id, "Working... 1/") > 0 or state(stack, task_id) == DEAD


def assert_dead_lettered(stack: LocalStack, task_id: str, reason: str) -> dict[str, Any]:
    """The task is DEAD_LETTERED with `reason` in GET /tasks/<id>, the list and the filtered
    list; its status body."""
    status = stack.api().status(task_id)
    assert (status["state"], status["reason"]) == (DEAD, reason), status
    assert listed_state(stack, task_id) == DEAD
    assert listed_state(stack, task_id, state_filter=DEAD) == DEAD
    return status


def test_a_task_whose_worker_is_killed_on_every_delivery_is_dead_lettered_then_redriven(
    stack: LocalStack, tmp_path: Path
) -> None:
    stack.start_web()
    worker = stack.start_worker(WORKER_CONCURRENCY="1")
    task_id = enqueue(stack, "long_task", duration=3)
    kills, killed_at = 0, time.monotonic()
    deadline = time.monotonic() + 120
    while state(stack, task_id) != DEAD and time.monotonic() < deadline:
        # Its body running on this worker (not the delivery that only sends it again).
        wait_until(
            running_or_dead(stack, worker, task_id), 40, "the task running, or dead-lettered"
        )
        if state(stack, task_id) == DEAD:
            break
        worker.kill_group(signal.SIGKILL)  # main process and pool: nothing recorded
        worker.popen.wait(10)
        kills, killed_at = kills + 1, time.monotonic()
        worker = stack.start_worker(f"worker-{kills}", WORKER_CONCURRENCY="1")
    dead_after = time.monotonic() - killed_at

    print(f"{kills} workers lost; DEAD_LETTERED {dead_after:.1f} s after the last kill")
    # SQS allows 3 receives; the third one, after a loss, sent the message again once, and
    # the task had then lost 2 of its 3 lost workers' budget: 5 runs, each lost.
    assert kills == 2 * stack.settings.max_receive_count - 1
    assert_dead_lettered(stack, task_id, f"worker lost {kills} times")
    # Its lease (4 s) and the watch's delay bound it, and a new worker's start (a few s).
    assert dead_after < 40
    wait_until(lambda: dlq_messages(stack) == 1, 30, "the task's message in the DLQ")

    worker.stop()  # so the redriven task is seen waiting before it runs
    redriven = redrive(stack, tmp_path)
    assert redriven.returncode == 0, redriven.stderr
    assert redriven.stdout.strip() == "moved 1 message(s) from the DLQ to taskqueue-tasks"
    assert "1 dead-lettered task(s) PENDING again" in redriven.stderr
    status = stack.api().status(task_id)
    assert (status["state"], status["reason"]) == ("PENDING", None)
    assert listed_state(stack, task_id) == "PENDING"

    last = stack.start_worker("worker-after-redrive", WORKER_CONCURRENCY="1")
    wait_for_states(stack, [task_id], {"SUCCESS"}, timeout=30)
    assert body_runs(last, task_id, "Completed work on 3") == 1


@pytest.mark.parametrize(
    ("poison", "reason", "run_line"),
    [
        ("fail", "failed 3 times", "raised unexpected"),
        ("crash", "worker lost 5 times", "Task crash["),
    ],
)
def test_a_poison_task_is_dead_lettered_with_its_reason_and_redrive_runs_it_again(
    stack: LocalStack, tmp_path: Path, poison: str, reason: str, run_line: str
) -> None:
    stack.start_web()
    worker = stack.start_worker(WORKER_CONCURRENCY="2")
    queued_at = time.monotonic()
    task_id = enqueue(stack, poison)

    wait_for_states(stack, [task_id], {DEAD}, timeout=90)
    dead_after = time.monotonic() - queued_at
    status = assert_dead_lettered(stack, task_id, reason)
    if poison == "fail":
        assert status["error"] == "RuntimeError: boom"
    shown = taskqueue(stack, tmp_path, "status", task_id)
    assert shown.returncode == 0, shown.stderr
    assert re.search(rf"^state +{DEAD}\nreason +{reason}$", shown.stdout, re.M), shown.stdout
    print(f"{poison}: DEAD_LETTERED {dead_after:.1f} s after it was queued")
    wait_until(lambda: dlq_messages(stack) == 1, 30, "the poison task in the DLQ")
    assert state(stack, task_id) == DEAD  # the move left it so

    worker.stop()
    runs = body_runs(worker, task_id, run_line)
    redriven = redrive(stack, tmp_path)
    assert redriven.returncode == 0, redriven.stderr
    assert state(stack, task_id) == "PENDING"
    assert listed_state(stack, task_id, state_filter="PENDING") == "PENDING"

    again = stack.start_worker("worker-after-redrive", WORKER_CONCURRENCY="2")
    wait_until(lambda: body_runs(again, task_id, run_line) > 0, 30, "the redriven task to run")
    assert runs > 0


def test_a_task_whose_last_receive_no_run_saw_is_found_in_the_dlq_and_dead_lettered(
    stack: LocalStack,
) -> None:
    """A killed worker's long poll lingers (SQS keeps it open), and takes the receives the
    task had left: the test plays that poll. Its message reaches the DLQ with no run to
    record the end; the dead-letter sweep finds it there and records DEAD_LETTERED."""
    stack.start_web()
    worker = stack.start_worker(WORKER_CONCURRENCY="1")
    task_id = enqueue(stack, "long_task", duration=3)
    wait_until(running_or_dead(stack, worker, task_id), 40, "the task running")
    worker.kill_group(signal.SIGKILL)
    worker.popen.wait(10)
    assert state(stack, task_id) in RUNNING

    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=stack.settings.task_queue_name)["QueueUrl"]
    for _ in range(stack.settings.max_receive_count - 1):
        wait_until(lambda: swallow(sqs, url), 30, "a receive nobody runs")
    stack.start_worker("worker-after", WORKER_CONCURRENCY="1")  # its receive moves it

    wait_until(lambda: dlq_messages(stack) == 1, 30, "the task's message in the DLQ")
    wait_for_states(stack, [task_id], {DEAD}, timeout=30)
    assert_dead_lettered(stack, task_id, "worker lost 1 time")
    assert body_runs(worker, task_id, "Completed work on") == 0


def swallow(sqs: Any, url: str) -> bool:
    """One receive of the task's message that no worker will run, as a dead worker's
    lingering poll takes it; whether there was a message to take."""
    answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, VisibilityTimeout=1)
    return bool(answer.get("Messages"))


def test_a_task_whose_worker_is_killed_three_times_still_succeeds(stack: LocalStack) -> None:
    """SQS's whole budget of receives lost their workers: the third one, the last, gives its
    receive back (the message sent again), and the copy's run succeeds, once."""
    stack.start_web()
    worker = stack.start_worker(WORKER_CONCURRENCY="1")  # its one slot busy: no poll lingers
    task_id = enqueue(stack, "long_task", duration=3)
    for kill in range(1, stack.settings.max_receive_count + 1):
        wait_until(started_on(worker, task_id), 40, "the task running")
        worker.kill_group(signal.SIGKILL)
        worker.popen.wait(10)
        worker = stack.start_worker(f"worker-{kill}", WORKER_CONCURRENCY="1")

    wait_for_states(stack, [task_id], {"SUCCESS"}, timeout=60)
    assert body_runs(worker, task_id, "Completed work on 3") == 1


def test_workers_killed_at_random_leave_every_task_succeeded_or_dead_lettered(
    stack: LocalStack,
) -> None:
    """The issue's measurement scaled down: 30 long_tasks of 1-3 s on three workers, a
    worker's whole process tree SIGKILLed every 3 s for 30 s. The killed workers' long polls
    linger (SQS keeps them open) and take receives no run sees; the dead-letter sweep
    records the tasks whose last receive went so."""
    chance = random.Random(20)
    stack.start_web()
    workers = [start_numbered_worker(stack, n, n) for n in range(3)]
    every_worker = list(workers)  # every one that ever ran, for the count of completed bodies
    task_ids = [enqueue(stack, "long_task", duration=chance.randint(1, 3)) for _ in range(30)]
    ends_at = time.monotonic() + 30
    while time.monotonic() + 3 < ends_at:
        time.sleep(3)
        victim = chance.choice(workers)
        victim.kill_group(signal.SIGKILL)
        victim.popen.wait(10)
        slot = workers.index(victim)
        workers[slot] = start_numbered_worker(stack, slot, len(every_worker))
        every_worker.append(workers[slot])

    final = wait_for_states(stack, task_ids, {"SUCCESS", DEAD}, timeout=90)

    print(f"{len(every_worker) - 3} workers killed; {Counter(final.values())}")
    completed = {
        task_id: sum(body_runs(worker, task_id, "Completed work on") for worker in every_worker)
        for task_id in task_ids
    }
    assert all(completed[t] == 1 for t, s in final.items() if s == "SUCCESS"), completed
    assert all(completed[t] == 0 for t, s in final.items() if s == DEAD), completed
    for task_id, end in final.items():
        if end == DEAD:
            assert re.fullmatch(r"worker lost \d+ times?", stack.api().status(task_id)["reason"])


def start_numbered_worker(stack: LocalStack, slot: int, number: int) -> Process:
    """Worker `number` (its log's name) in `slot` of three (its heartbeat file's name)."""
    return stack.start_worker(
        f"worker-{number}",
        WORKER_CONCURRENCY="2",
        WORKER_HEARTBEAT_FILE=str(stack.work_dir / f"heartbeat-{slot}"),
    )
