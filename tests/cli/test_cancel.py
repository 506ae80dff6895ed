"""`cancel`: a queued task is cancelled; a finished or unknown one is a one-line error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from taskqueue_cli.api import TaskApi

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.cli.conftest import Cli, one_line_error

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
