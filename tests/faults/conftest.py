"""Fault-injection fixtures: a local stack with short limits, so redeliveries come in seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from taskqueue_cli.queues import read_depth

from harness.stack import LocalStack
from tests.short_limits import SHORT_LIMITS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a fault test (`make test-faults`)."""
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    """moto with the short-limit queue; the test starts the worker and web it needs."""
    local = LocalStack(work_dir=tmp_path)
    local.env.update(SHORT_LIMITS)
    try:
        local.start_aws()
        yield local
    finally:
        local.stop()


def enqueue(stack: LocalStack, task: str, **params: Any) -> str:
    """POST /tasks; the task id."""
    return stack.api().enqueue(task, params)


def state(stack: LocalStack, task_id: str) -> str:
    """The task's state as GET /tasks/<id> shows it."""
    return stack.api().state(task_id)


def wait_for_states(
    stack: LocalStack, task_ids: list[str], wanted: set[str], timeout: float
) -> dict[str, str]:
    """Poll until every task is in one of `wanted`; the last states seen."""
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {task_id: state(stack, task_id) for task_id in task_ids}
        if all(value in wanted for value in states.values()):
            return states
        time.sleep(0.25)
    raise AssertionError(f"not all in {wanted} after {timeout}s: {states}")


def dlq_messages(stack: LocalStack) -> int:
    """Visible messages in the dead-letter queue."""
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=stack.settings.task_dlq_name)["QueueUrl"]
    return read_depth(sqs, url).visible
