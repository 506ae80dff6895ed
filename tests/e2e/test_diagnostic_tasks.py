"""Without DIAGNOSTIC_TASKS (as on AWS) the diagnostic tasks are not offered: the web answers
them as unknown tasks and leaves them out of its OpenAPI document, and the worker does not
register them, so a message crafted for `crash` is refused unrun."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from taskqueue import TaskParams
from taskqueue.catalogue.registry import TASKS
from taskqueue.catalogue.schedules import Schedule, fire_message
from taskqueue.stores.queue_depth import read_depth

from harness.processes import wait_until
from harness.stack import CLIENT, LocalStack, running
from tests.short_limits import SHORT_LIMITS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

DIAGNOSTIC = ("fail", "crash", "retry_then_succeed", "check_secret")
SHIPPED = {"long_task", "noop", "queue_report", "report"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto, a worker and the web, with the diagnostic tasks off (the tests' stacks have them),
    and the short limits: a message's three receives take about 18 s."""
    work_dir = tmp_path_factory.mktemp("stack")
    with running(work_dir, DIAGNOSTIC_TASKS="false", **SHORT_LIMITS) as local:
        yield local


def worker_log(stack: LocalStack) -> str:
    (worker,) = [process for process in stack.processes if process.name == "worker"]
    return worker.log()


@pytest.mark.parametrize("task", DIAGNOSTIC)
def test_the_web_answers_a_diagnostic_task_as_an_unknown_task(stack: LocalStack, task: str) -> None:
    response = stack.api().post_task(task, {})

    assert response.status_code == 422
    problem = response.json()
    assert [error["field"] for error in problem["errors"]] == ["task"]
    expected = problem["detail"].partition("expected tags: ")[2]  # what the CLI shows too
    assert {name.strip(" '") for name in expected.split(",")} == SHIPPED
    assert stack.queue_depth() == 0


def test_the_openapi_document_lists_only_the_offered_tasks(stack: LocalStack) -> None:
    document = stack.api().get("/openapi.json").json()
    schemas = document["components"]["schemas"]

    assert set(schemas["TaskRequest"]["discriminator"]["mapping"]) == SHIPPED
    assert len(schemas["TaskRequest"]["oneOf"]) == len(SHIPPED)
    assert not [name for name in schemas if name.startswith(("Crash", "Fail", "CheckSecret"))]
    assert {ref.removeprefix("#/components/schemas/") for ref in _refs(document)} <= set(schemas)


def crafted(stack: LocalStack, task: str, params: TaskParams, at: datetime) -> str:
    """Send a Celery message for `task` straight to the queue, as any sender could (the one
    EventBridge Scheduler sends); its task id."""
    message = Schedule(
        name=f"crafted-{task}".replace("_", "-"),
        spec=TASKS[task],
        params=params,
        expression="rate(1 minute)",
        client=CLIENT,
    )
    template = message.message_template(stack.settings.task_queue_name)
    body = fire_message(template, at)
    stack.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=body)
    return str(json.loads(body)["headers"]["id"])


def test_the_worker_refuses_a_crafted_crash_unrun(stack: LocalStack) -> None:
    at = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    # The same kind of message for a task the worker offers runs: the crafted form is right.
    control = crafted(stack, "noop", TASKS["noop"].params(), at)
    api = stack.api()
    wait_until(lambda: api.get_task(control).status_code == 200, 30, "the control claimed")
    wait_until(lambda: api.state(control) == "SUCCESS", 30, "the control succeeded")

    crash = crafted(stack, "crash", TASKS["crash"].params(), at)

    # Refused at each receive (the queue's redrive policy keeps it until SQS dead-letters it
    # after MAX_RECEIVE_COUNT receives), never run.
    sqs = stack.client("sqs")
    wait_until(lambda: read_depth(sqs, stack.settings.dlq_url).visible == 1, 90, "the DLQ")
    log = worker_log(stack)
    assert log.count("Received unregistered task of type 'crash'") == 3
    assert f"Task crash[{crash}]" not in log  # never started
    assert "SIGKILL" not in log and "WorkerLostError" not in log  # no pool process died
    assert state_of(stack, crash) == ("FAILURE", "NotRegistered")


def state_of(stack: LocalStack, task_id: str) -> tuple[str, str]:
    """The state and the exception type Celery's result backend recorded for `task_id` (its
    item's key is the text of Celery's bytes key: taskqueue.stores.results item_key)."""
    key = {"id": {"S": str(f"celery-task-meta-{task_id}".encode())}}
    item = stack.client("dynamodb").get_item(TableName=stack.settings.results_table, Key=key)[
        "Item"
    ]
    meta: dict[str, Any] = json.loads(item["result"]["B"])
    return meta["status"], meta["result"]["exc_type"]


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_a_stack_with_them_runs_them(tmp_path: Path) -> None:
    """The tests' own stacks (DIAGNOSTIC_TASKS=true, harness.stack) offer them."""
    with running(tmp_path) as local:
        api = local.api()
        response = api.post_task("fail", {"message": "offered"})
        assert response.status_code == 202, response.text
        task_id = response.json()["id"]
        wait_until(
            lambda: f"Task fail[{task_id}] raised unexpected" in worker_log(local),
            60,
            "fail run by the worker",
        )
