"""A schedule's fire, exactly as the template tells EventBridge Scheduler to send it, is run by a
real worker, once however often it arrives, and its owner sees it through the web."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from taskqueue.catalogue.schedules import fire_message, task_id
from taskqueue.factory import declared_schedules as declared
from taskqueue.stores import api_keys
from taskqueue_cli.api import TaskApi

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.infra.conftest import synthesize

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def scheduler_input(schedule: dict[str, Any], queue_name: str) -> str:
    """The schedule's target Input as CloudFormation resolves it: the one reference in it is
    the name of the queue its target is (the message's routing key)."""
    target = schedule["Properties"]["Target"]
    queue_id = target["Arn"]["Fn::GetAtt"][0]
    text = target["Input"]
    if isinstance(text, str):
        return text
    separator, parts = text["Fn::Join"]
    resolved = []
    for part in parts:
        if isinstance(part, dict):
            assert part == {"Fn::GetAtt": [queue_id, "QueueName"]}, part
            part = queue_name
        resolved.append(part)
    return str(separator).join(resolved)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each schedule of the synthesized dev template, by its name."""
    synth = synthesize(tmp_path_factory.mktemp("cdk"), {})
    found = synth.resources("AWS::Scheduler::Schedule")
    return {schedule["Properties"]["Name"]: schedule for schedule in found.values()}


@pytest.fixture(scope="module")
def scheduler_api(running_stack: LocalStack) -> Iterator[TaskApi]:
    """The web as the schedules' client (an operator's `taskqueue keys create scheduler`)."""
    key = api_keys.new_key()
    dynamodb = running_stack.client("dynamodb")
    api_keys.register(dynamodb, running_stack.settings.results_table, "scheduler", key)
    yield TaskApi(running_stack.web_url, api_key=key)


def test_every_declared_schedule_is_in_the_template(inputs: dict[str, Any]) -> None:
    assert set(inputs) == set(declared())


@pytest.mark.parametrize("name", sorted(declared()))
def test_a_fire_from_the_template_runs_once_and_only_its_owner_sees_it(
    running_stack: LocalStack, inputs: dict[str, dict[str, Any]], scheduler_api: TaskApi, name: str
) -> None:
    sqs = running_stack.client("sqs")
    scheduled = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    body = fire_message(
        scheduler_input(inputs[name], running_stack.settings.task_queue_name), scheduled
    )
    fire_id = task_id(name, scheduled)
    assert fire_id == f"schedule-{name}-2026-12-01T03:00:00Z"

    sqs.send_message(QueueUrl=running_stack.queue_url, MessageBody=body)
    wait_for_success(scheduler_api, fire_id)
    # The same fire again (Scheduler's at-least-once delivery, or a retried send).
    sqs.send_message(QueueUrl=running_stack.queue_url, MessageBody=body)
    dropped = f"task {fire_id} was delivered again after it finished: dropped"
    wait_until(lambda: dropped in worker_log_of(running_stack), 30, "the duplicate dropped")
    wait_until(lambda: running_stack.queue_depth() == 0, 30, "the duplicate deleted")

    task_name = declared()[name].spec.name
    assert worker_log_of(running_stack).count(f"Task {task_name}[{fire_id}] succeeded") == 1
    # Its owner's task list shows it, once; another client sees it nowhere.
    listed = [item for item in scheduler_api.list_tasks().json()["items"] if item["id"] == fire_id]
    assert [(item["task"], item["state"]) for item in listed] == [(task_name, "SUCCESS")]
    assert running_stack.api().get_task(fire_id).status_code == 404
    assert fire_id not in {item["id"] for item in running_stack.api().list_tasks().json()["items"]}


def test_the_queue_report_logs_both_queues_counts(
    running_stack: LocalStack, inputs: dict[str, dict[str, Any]], scheduler_api: TaskApi
) -> None:
    scheduled = datetime(2026, 12, 1, 3, 5, tzinfo=UTC)
    body = fire_message(
        scheduler_input(inputs["queue-report"], running_stack.settings.task_queue_name), scheduled
    )
    running_stack.client("sqs").send_message(QueueUrl=running_stack.queue_url, MessageBody=body)
    fire_id = task_id("queue-report", scheduled)
    wait_for_success(scheduler_api, fire_id)

    result = scheduler_api.status(fire_id)["result"]
    assert set(result) == {"tasks", "dead_letter"}
    assert result["dead_letter"] == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert '"message": "queue report"' in worker_log_of(running_stack)


def wait_for_success(api: TaskApi, fire_id: str) -> None:
    """Until `GET /tasks/<id>` shows the fire SUCCESS (404 until the worker claims it)."""
    wait_until(lambda: api.get_task(fire_id).status_code == 200, 30, f"{fire_id} claimed")
    wait_until(lambda: api.state(fire_id) == "SUCCESS", 30, f"{fire_id} succeeded")


def worker_log_of(stack: LocalStack) -> str:
    (worker,) = [process for process in stack.processes if process.name == "worker"]
    return worker.log()
