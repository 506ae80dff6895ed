"""Several queues through real processes: each task on its queue, each queue's own workers.

One stack: moto, the web and a worker of the default queue (one pool process each); the
`reports` queue's worker is started by the tests that need it. `report` is the shipped task
of the `reports` queue; `noop` stays on the default queue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.processes import Process, start, wait_until
from harness.stack import WORKER_ARGV, LocalStack, running

pytestmark = [pytest.mark.e2e]

HOP_SECONDS = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto, the web and the default queue's worker, with delay hops of 3 s."""
    work_dir = tmp_path_factory.mktemp("queues")
    env = {"DELAY_HOP_SECONDS": str(HOP_SECONDS), "WORKER_CONCURRENCY": "1"}
    with running(work_dir, **env) as local:
        yield local


@pytest.fixture(scope="module")
def reports_worker(stack: LocalStack) -> Process:
    """The `reports` queue's worker (one pool process), beside the default's."""
    return stack.start_worker(queue="reports")


def post(stack: LocalStack, task: str, **body: object) -> str:
    response = stack.api().request("POST", "/tasks", json={"task": task, **body})
    assert response.status_code == 202, response.text
    task_id: str = response.json()["id"]
    return task_id


def received(worker: Process, task_id: str) -> bool:
    """Celery in `worker` received the task (its log says so)."""
    return f"[{task_id}] received" in worker.log()


def json_lines(worker: Process) -> list[dict[str, Any]]:
    """The worker's JSON log lines (Celery's start-up banner is plain text)."""
    return [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]


def default_worker(stack: LocalStack) -> Process:
    return next(process for process in stack.processes if process.name == "worker")


@pytest.mark.timeout(120)
def test_a_report_waits_in_its_queue_while_only_the_default_queue_s_worker_runs(
    stack: LocalStack,
) -> None:
    report = post(stack, "report", params={"duration": 1})
    quick = post(stack, "noop")
    wait_until(lambda: stack.api().state(quick) == "SUCCESS", 60, "the quick task")

    assert stack.api().state(report) == "PENDING"
    assert stack.queue_depth("reports") == 1
    assert stack.queue_depth() == 0
    assert not received(default_worker(stack), report)


@pytest.mark.timeout(120)
def test_a_report_runs_on_the_reports_worker_and_each_answer_names_its_queue(
    stack: LocalStack, reports_worker: Process
) -> None:
    report = post(stack, "report", params={"duration": 1})
    quick = post(stack, "noop")
    api = stack.api()
    wait_until(lambda: api.state(report) == "SUCCESS", 60, "the report", reports_worker)
    wait_until(lambda: api.state(quick) == "SUCCESS", 60, "the quick task")

    assert received(reports_worker, report) and not received(reports_worker, quick)
    assert {line.get("queue") for line in json_lines(reports_worker)} == {"reports"}
    assert {line.get("queue") for line in json_lines(default_worker(stack))} == {"default"}
    assert not received(default_worker(stack), report)
    assert api.get_task(report).json()["queue"] == "reports"
    assert api.get_task(quick).json()["queue"] == "default"
    listed = {item["id"]: item["queue"] for item in api.list_tasks().json()["items"]}
    assert (listed[report], listed[quick]) == ("reports", "default")
    wait_until(
        lambda: {w["queue"] for w in api.workers().json()["workers"]} == {"default", "reports"},
        30,
        "both workers in GET /workers",
    )


@pytest.mark.timeout(120)
def test_a_delayed_report_hops_on_the_reports_queue(
    stack: LocalStack, reports_worker: Process
) -> None:
    report = post(stack, "report", params={"duration": 1}, delay_seconds=2 * HOP_SECONDS)

    assert stack.queue_depth("reports") == 1 and stack.queue_depth() == 0
    wait_until(lambda: stack.api().state(report) == "SUCCESS", 60, "the delayed report")
    assert f"task {report} is due in" in reports_worker.log()  # the hop, on its own queue
    assert report not in default_worker(stack).log()


@pytest.mark.timeout(180)
def test_a_quick_task_is_not_stuck_behind_a_backlog_of_reports(
    stack: LocalStack, reports_worker: Process
) -> None:
    api = stack.api()
    running_report = post(stack, "report", params={"duration": 30})
    wait_until(lambda: api.state(running_report) == "PROGRESS", 60, "the report to run")
    backlog = [post(stack, "report", params={"duration": 30}) for _ in range(3)]
    queued = time.monotonic()

    quick = post(stack, "noop")
    wait_until(lambda: api.state(quick) == "SUCCESS", 30, "the quick task")

    # The reports' worker is still on its first report and the others still wait.
    assert time.monotonic() - queued < 30
    assert [api.state(task) for task in backlog] == ["PENDING"] * 3
    assert stack.queue_depth("reports") == 4
    for task in [running_report, *backlog]:
        api.delete_task(task)


@pytest.mark.timeout(120)
def test_a_worker_of_a_queue_no_task_uses_refuses_to_start(stack: LocalStack) -> None:
    env = {**stack.env, "WORKER_QUEUE": "nothing"}
    process = start("refused", WORKER_ARGV, env, stack.work_dir)
    try:
        wait_until(lambda: process.popen.poll() is not None, 90, "the start to be refused")
    finally:
        process.stop()

    assert process.popen.returncode != 0
    assert "WORKER_QUEUE is 'nothing' but no task is sent to that queue" in process.log()
    assert "the declared queues are default, reports" in process.log()
