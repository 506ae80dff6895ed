"""`tasks list` and `workers list` against the real web, worker and moto."""

from __future__ import annotations

import pytest
from taskqueue_cli.api import TaskApi

from harness.processes import wait_until
from tests.cli.conftest import Cli, one_line_error

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_tasks_list_pages_newest_first_and_prints_the_next_cursor(cli: Cli, api: TaskApi) -> None:
    older, newer = api.enqueue("noop"), api.enqueue("noop")

    [first] = cli.json_lines("tasks", "list", "--limit", "1")
    page = cli("tasks", "list", "--limit", "1")
    cursor = page.stdout.splitlines()[-1].removeprefix("more: taskqueue tasks list --cursor ")
    [second] = cli.json_lines("tasks", "list", "--limit", "1", "--cursor", cursor)

    assert (first["id"], second["id"]) == (newer, older)
    assert page.stdout.splitlines()[0].startswith(f"{newer} noop ")


def test_tasks_list_watch_follows_the_newest_task_to_success_with_its_bar(
    cli: Cli, api: TaskApi
) -> None:
    task_id = api.enqueue("long_task", {"duration": 2})

    result = cli("tasks", "list", "--limit", "1", "--watch", "--interval", "0.2")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"{task_id} PROGRESS 1/2" in lines
    bar, more = lines[-2:]
    assert more.startswith("more: taskqueue tasks list --cursor ")
    assert bar.startswith(f"{task_id} long_task  SUCCESS") and "100%" in bar and "2/2" in bar


def test_tasks_list_refuses_an_unknown_state_in_one_line(cli: Cli) -> None:
    assert "refused: state: " in one_line_error(cli("tasks", "list", "--state", "DONE"))


def test_workers_list_shows_the_live_worker(cli: Cli, api: TaskApi) -> None:
    wait_until(lambda: len(api.workers().json()["workers"]) == 1, 20, "the worker's presence")

    [worker] = cli.json_lines("workers", "list")
    table = cli("workers", "list").stdout.splitlines()

    assert worker["concurrency"] == 2
    header = ["WORKER", "QUEUE", "BUSY", "RUNNING", "VERSION", "LAST", "RECEIVE", "SEEN"]
    assert table[0].split() == header
    assert table[1].startswith(f"{worker['worker']}  ") and f"/{worker['concurrency']}" in table[1]
    assert worker["queue"] == table[1].split()[1] == "default"
