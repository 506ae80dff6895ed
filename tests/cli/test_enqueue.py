"""`enqueue` and `status` against the real web, worker and moto."""

from __future__ import annotations

import json

import pytest
import requests
from taskqueue_cli.api import TaskApi

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.cli.conftest import Cli, one_line_error

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_enqueue_watch_follows_the_task_to_success_and_the_bar_reaches_100_percent(
    cli: Cli,
) -> None:
    result = cli("enqueue", "long_task", "duration=3", "--watch", "--interval", "0.2")

    assert result.returncode == 0, result.stderr
    task_id, *lines = result.stdout.splitlines()
    assert len(task_id) == 36
    assert "PROGRESS 1/3" in lines and "PROGRESS 2/3" in lines
    bar = next(line for line in lines if line.startswith("SUCCESS ") and "━" in line)
    assert "100%" in bar and "3/3" in bar
    assert lines[-1] == 'result: {"duration": 3}'


def test_enqueue_prints_the_id_and_status_shows_the_result(cli: Cli, api: TaskApi) -> None:
    result = cli("enqueue", "long_task", "duration=1")

    assert result.returncode == 0, result.stderr
    task_id = result.stdout.strip()
    wait_until(lambda: api.state(task_id) == "SUCCESS", 30, "SUCCESS")
    status = cli("status", task_id)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines() == [
        f"id       {task_id}",
        "state    SUCCESS",
        'result   {"duration": 1}',
    ]
    assert json.loads(cli("status", task_id, "--json").stdout) == api.status(task_id)


def test_status_of_a_task_in_progress_shows_how_far_it_got(cli: Cli, api: TaskApi) -> None:
    # A 3 s task (the stack's longest) may end while a loaded machine starts the CLI: then
    # its status shows SUCCESS, and another task is tried, three at most.
    for _ in range(3):
        task_id = cli("enqueue", "long_task", "duration=3").stdout.strip()
        wait_until(lambda tid=task_id: api.state(tid) == "PROGRESS", 30, "PROGRESS")
        lines = cli("status", task_id).stdout.splitlines()
        wait_until(lambda tid=task_id: api.state(tid) == "SUCCESS", 30, "SUCCESS")
        if lines[1] != "state    SUCCESS":
            break

    assert lines[1] == "state    PROGRESS"
    assert lines[2] in {"progress 1/3 (33%)", "progress 2/3 (66%)", "progress 3/3 (100%)"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_task"], "error: unknown task 'no_such_task'; known tasks: "),
        (["long_task", "duration=99"], "error: bad parameters for long_task: params.duration: "),
    ],
)
def test_the_web_refusing_a_task_is_a_one_line_error_and_nothing_is_queued(
    cli: Cli, full_stack: LocalStack, args: list[str], message: str
) -> None:
    before = full_stack.queue_depth()

    line = one_line_error(cli("enqueue", *args))

    assert line.startswith(message)
    assert full_stack.queue_depth() == before


def test_status_of_an_id_never_queued_is_a_one_line_error(cli: Cli) -> None:
    line = one_line_error(cli("status", "no-such-id"))

    assert line == "error: no task with id no-such-id was queued (or its result has expired)"


def test_status_of_a_result_too_large_to_return_inline_prints_its_url(
    cli: Cli, api: TaskApi
) -> None:
    task_id = cli("enqueue", "sized_result", "size=2000000").stdout.strip()
    wait_until(lambda: api.state(task_id) == "SUCCESS", 30, "SUCCESS")

    lines = cli("status", task_id).stdout.splitlines()

    # A presigned URL is signed afresh at each GET (its date and signature differ by the
    # second): the CLI's is the web's up to its query.
    url = api.status(task_id)["result_url"]
    assert lines[:2] == [f"id       {task_id}", "state    SUCCESS"]
    label, printed = lines[2].split(maxsplit=1)
    assert (label, len(lines)) == ("url", 3)
    assert printed.split("?")[0] == url.split("?")[0]
    assert "X-Amz-Signature=" in printed
    assert json.loads(requests.get(printed, timeout=30).content) == "0123456789" * 200_000
