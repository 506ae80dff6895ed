"""`schedules list` shows when each schedule fires and its last fire's state; `schedules run`
sends a fire a real worker runs, once per scheduled time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from taskqueue.catalogue.schedules import task_id
from taskqueue.factory import declared_schedules as declared
from taskqueue.stores import api_keys
from taskqueue_cli.api import TaskApi

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.cli.conftest import Cli, one_line_error

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def scheduler_api(full_stack: LocalStack) -> TaskApi:
    """The web as the schedules' client (`taskqueue keys create scheduler`)."""
    key = api_keys.new_key()
    api_keys.register(
        full_stack.client("dynamodb"), full_stack.settings.results_table, "scheduler", key
    )
    return TaskApi(full_stack.web_url, api_key=key)


def wait_for_success(api: TaskApi, fire_id: str) -> None:
    wait_until(lambda: api.get_task(fire_id).status_code == 200, 30, f"{fire_id} claimed")
    wait_until(lambda: api.state(fire_id) == "SUCCESS", 30, f"{fire_id} succeeded")


def test_run_fires_now_and_prints_the_task_id(cli: Cli, scheduler_api: TaskApi) -> None:
    before = datetime.now(UTC).replace(microsecond=0)

    result = cli("schedules", "run", "queue-report")

    assert result.returncode == 0, result.stderr
    fire_id = result.stdout.strip()
    fired_at = datetime.fromisoformat(fire_id.removeprefix("schedule-queue-report-"))
    assert before <= fired_at <= datetime.now(UTC)
    wait_for_success(scheduler_api, fire_id)


def test_list_shows_the_last_fire_and_its_state(cli: Cli, scheduler_api: TaskApi) -> None:
    report = declared()["queue-report"]
    for _ in range(2):  # once more if a fire time passed between the run and the list
        last = report.last_fire(datetime.now(UTC))
        fired = cli("schedules", "run", "queue-report", "--at", last.isoformat())
        assert fired.stdout.strip() == task_id("queue-report", last), fired.stderr
        wait_for_success(scheduler_api, task_id("queue-report", last))
        rows = {row["name"]: row for row in cli.json_lines("schedules", "list")}
        if rows["queue-report"]["last_task_id"] == task_id("queue-report", last):
            break

    assert set(rows) == set(declared())
    row = rows["queue-report"]
    assert row["expression"] == "cron(0/5 * * * ? *)" and row["timezone"] == "UTC"
    assert row["task"] == "queue_report"
    assert row["last_state"] == "SUCCESS"
    assert datetime.fromisoformat(row["next_fire"]) == report.next_fire(last)

    table = cli("schedules", "list")
    assert table.returncode == 0, table.stderr
    assert "queue-report" in table.stdout and "SUCCESS" in table.stdout


def test_run_of_an_unknown_schedule_names_the_declared_ones(cli: Cli) -> None:
    result = cli("schedules", "run", "nightly")

    assert result.returncode != 0
    assert "no schedule 'nightly' (declared: queue-report)" in one_line_error(result)


def test_the_cli_keys_and_reads_the_results_table_as_the_backend_does() -> None:
    from celery import Celery
    from taskqueue.stores.results import STATE_ATTRIBUTE, ProvisionedTableBackend
    from taskqueue_cli.commands import schedules

    backend = ProvisionedTableBackend(app=Celery(), url="dynamodb://@us-east-1/results")
    fire_id = "schedule-queue-report-2026-12-01T03:00:00Z"
    assert schedules.item_key(fire_id) == backend.item_key(fire_id)
    assert schedules.STATE_ATTRIBUTE == STATE_ATTRIBUTE
