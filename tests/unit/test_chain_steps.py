"""A chain's step: its parameters from the previous result, its owner, the rest on a cancel."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from celery import Celery, chain, group
from celery._state import _task_stack
from flask import Flask
from taskqueue.runtime.chain_steps import (
    CrossQueueChain,
    StepParamsError,
    inherit_client,
    later_steps,
    revoke_later_steps,
    step_arguments,
)
from taskqueue.settings import Settings
from taskqueue.stores.results import read_status


@pytest.fixture
def celery(app: Flask) -> Celery:
    celery_app: Celery = app.extensions["celery"]
    return celery_app


def running(celery: Celery, name: str, **request: Any) -> Any:
    """A task `name` as a worker runs it: its app and its request."""
    return SimpleNamespace(
        app=celery, name=name, request=SimpleNamespace(called_directly=False, **request)
    )


def test_a_step_takes_the_fields_it_lacks_from_the_previous_result(celery: Celery) -> None:
    task = running(celery, "long_task")

    assert step_arguments(task, ({"duration": 2, "other": "x"},), {}) == ((), {"duration": 2})
    # Its own parameters win over the result's.
    assert step_arguments(task, ({"duration": 2},), {"duration": 1}) == ((), {"duration": 1})
    assert step_arguments(task, (), {"duration": 3}) == ((), {"duration": 3})  # no chain
    assert step_arguments(running(celery, "noop"), (None,), {}) == ((), {})
    # Called directly, not through a worker: its arguments as given.
    direct = SimpleNamespace(app=celery, name="long_task", request=SimpleNamespace())
    assert step_arguments(direct, (3,), {}) == ((3,), {})


def test_a_step_whose_parameters_do_not_validate_names_them(celery: Celery) -> None:
    task = running(celery, "long_task")

    with pytest.raises(StepParamsError, match=r"duration: Field required"):
        step_arguments(task, ([1, 2],), {})
    with pytest.raises(StepParamsError, match=r"duration: .*TASK_MAX_DURATION"):
        step_arguments(task, ({"duration": 10**6},), {})
    with pytest.raises(StepParamsError, match="2 positional"):
        step_arguments(task, (1, 2), {})


def test_a_message_sent_while_a_task_runs_names_its_client(celery: Celery) -> None:
    task = celery.tasks["noop"]
    task.push_request(client="alice")
    try:
        _task_stack.push(task)  # get_current_task's stack: the worker's tracer pushes it
        try:
            inherited: dict[str, Any] = {}
            inherit_client(headers=inherited)
            own = {"client": "bob"}
            inherit_client(headers=own)
        finally:
            _task_stack.pop()
    finally:
        task.pop_request()
    outside: dict[str, Any] = {}
    inherit_client(headers=outside)

    assert inherited == {"client": "alice"}
    assert own == {"client": "bob"}
    assert outside == {}


def test_the_later_steps_are_read_from_the_request_in_order(celery: Celery) -> None:
    steps = chain(
        celery.signature("noop").set(task_id="a"),
        celery.signature("noop").set(task_id="b"),
        group(
            celery.signature("noop").set(task_id="c1"), celery.signature("noop").set(task_id="c2")
        ),
    )
    steps.freeze()
    # What the first step's request holds: the rest, reversed (the next step last).
    rest = [dict(task) for task in reversed(steps.tasks[1:])]

    assert list(later_steps(rest)) == [("b", "noop"), ("c1", "noop"), ("c2", "noop")]
    assert list(later_steps(None)) == []


def test_a_cancel_records_each_later_step_revoked_for_its_client(celery: Celery) -> None:
    rest = [{"task": "noop", "options": {"task_id": "later"}}]
    task = running(celery, "long_task", id="first", chain=rest, client="alice")

    revoke_later_steps(task)

    status = read_status(celery, "later", client="alice")
    assert status is not None
    assert status.state == "REVOKED" and status.task == "noop"
    assert status.error is not None and "cancelled with its chain" in status.error
    assert read_status(celery, "later", client="mallory") is None


def test_a_chain_across_queues_is_refused_before_anything_is_sent(
    celery: Celery, settings: Settings
) -> None:
    sqs = boto3.client("sqs", region_name=settings.aws_region)
    across = chain(celery.signature("noop"), celery.signature("report", kwargs={"duration": 1}))

    with pytest.raises(CrossQueueChain, match=r"report \(.+\) is on queue 'reports'"):
        across.apply_async()

    for queue in ("default", "reports"):
        url = settings.queue_address(queue).url
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0", queue
    # On one queue it is sent: its first step's message.
    chain(celery.signature("noop"), celery.signature("noop")).apply_async()
    url = settings.queue_address("default").url
    assert len(sqs.receive_message(QueueUrl=url).get("Messages", [])) == 1
