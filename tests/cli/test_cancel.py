"""`cancel`: a queued task is cancelled, a running one asked to stop; a finished or unknown
one is a one-line error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from taskqueue_cli.api import TaskApi

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.cli.conftest import Cli, one_line_error
from tests.short_limits import SHORT_LIMITS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture
def web_without_workers(tmp_path: Path) -> Iterator[Cli]:
    """moto and the web, no worker: what is queued stays queued."""
    stack = LocalStack(work_dir=tmp_path / "stack")
    (tmp_path / "stack").mkdir()
    try:
        stack.start_aws()
        stack.start_web()
        yield Cli(env=stack.env, cwd=tmp_path, extra={"TASKQUEUE_API_KEY": stack.api_key})
    finally:
        stack.stop()


def test_cancel_marks_a_queued_task_revoked(web_without_workers: Cli) -> None:
    cli = web_without_workers
    task_id = cli("enqueue", "long_task", "duration=1").stdout.strip()

    result = cli("cancel", task_id)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"id       {task_id}",
        "state    REVOKED",
        "error    TaskRevokedError: cancelled before it started",
    ]


def test_cancel_after_the_task_ran_is_too_late(cli: Cli, api: TaskApi) -> None:
    task_id = cli("enqueue", "noop").stdout.strip()
    wait_until(lambda: api.state(task_id) == "SUCCESS", 30, "SUCCESS")

    line = one_line_error(cli("cancel", task_id))

    assert line.startswith("error: too late to cancel: ")
    assert "is SUCCESS" in line


def test_cancel_of_an_unknown_id_says_so(cli: Cli) -> None:
    line = one_line_error(cli("cancel", "never-queued"))

    assert line == "error: no task with id never-queued was queued (or its result has expired)"


@pytest.fixture
def stack_with_a_long_task_limit(tmp_path: Path) -> Iterator[tuple[Cli, TaskApi]]:
    """moto, the web and one worker, with short limits; long_task may run 20 s."""
    stack = LocalStack(work_dir=tmp_path / "stack")
    (tmp_path / "stack").mkdir()
    stack.env.update({**SHORT_LIMITS, "TASK_MAX_DURATION": "20"})
    try:
        stack.start_aws()
        stack.start_web()
        stack.start_worker()
        yield (
            Cli(env=stack.env, cwd=tmp_path, extra={"TASKQUEUE_API_KEY": stack.api_key}),
            stack.api(),
        )
    finally:
        stack.stop()


def test_cancel_of_a_running_task_asks_its_worker_to_stop_it(
    stack_with_a_long_task_limit: tuple[Cli, TaskApi],
) -> None:
    cli, api = stack_with_a_long_task_limit
    task_id = cli("enqueue", "long_task", "duration=20").stdout.strip()
    wait_until(lambda: api.state(task_id) == "PROGRESS", 30, "the task running")

    result = cli("cancel", task_id)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"id       {task_id}", "state    PROGRESS"]
    assert lines[-1] == "cancel   requested: its worker stops it at its next heartbeat"
    wait_until(lambda: api.state(task_id) == "REVOKED", 15, "the task stopped")
