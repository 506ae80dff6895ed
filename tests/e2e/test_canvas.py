"""Celery's canvas on the real local stack: chains and groups from Python, chords refused.

A chain is applied from Python code (as code in the web or in a task applies one) with the
owner's `client` header; the worker sends each next step (taskqueue.runtime.chain_steps).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery, chain, chord, group
from celery.canvas import Signature
from taskqueue.stores.chords import ChordsRefused

from harness.processes import wait_until
from harness.stack import CLIENT, LocalStack, running
from tests.e2e.conftest import producer
from tests.short_limits import SHORT_LIMITS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

OWNED = {"client": CLIENT}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto, one worker of two pool processes and the web, with short limits (a cancel
    reaches a running task within 2 s)."""
    with running(tmp_path_factory.mktemp("canvas"), **SHORT_LIMITS) as local:
        yield local


@pytest.fixture(scope="module")
def app(stack: LocalStack) -> Iterator[Celery]:
    """A Celery app of the stack's queue and table, as Python code that applies a canvas."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield producer(stack, monkeypatch, "canvas-test")


def step(app: Celery, name: str, **params: Any) -> Signature:
    """A step of a canvas: task `name` with its own `params`."""
    return app.signature(name, kwargs=params)


def worker_lines(stack: LocalStack) -> list[dict[str, Any]]:
    """The worker's JSON log lines."""
    worker = next(process for process in stack.processes if process.name == "worker")
    return [json.loads(text) for text in worker.log().splitlines() if text.startswith("{")]


def bodies_run(stack: LocalStack, task_id: str) -> int:
    """How often long_task's body ran to its end under `task_id`."""
    return sum(
        1
        for line in worker_lines(stack)
        if line.get("task_id") == task_id and line["message"].startswith("Completed work on")
    )


def dropped(stack: LocalStack, task_id: str) -> bool:
    """Whether the worker dropped a delivery of `task_id` because the task had succeeded."""
    message = f"task {task_id} was delivered again after it finished: dropped"
    return any(line["message"] == message for line in worker_lines(stack))


def line_index(stack: LocalStack, task_id: str, message: str) -> int:
    """Where the worker first logged `message` for `task_id` (the line names it)."""
    for index, line in enumerate(worker_lines(stack)):
        names_it = task_id in line["message"] or line.get("task_id") == task_id
        if names_it and line["message"].startswith(message):
            return index
    raise AssertionError(f"no {message!r} for {task_id}")


def http_state(stack: LocalStack, task_id: str) -> dict[str, Any]:
    """GET /tasks/<id> as the owner; 200 asserted."""
    response = stack.api().get_task(task_id)
    assert response.status_code == 200, (task_id, response.text)
    body: dict[str, Any] = response.json()
    return body


def test_a_chord_is_refused_before_anything_is_sent(stack: LocalStack, app: Celery) -> None:
    # First in the module: the queue is empty, so any message sent would show in its depth.
    assert stack.queue_depth() == 0
    header = [step(app, "noop"), step(app, "noop")]
    attempts = {
        "chord": lambda: chord(header)(step(app, "noop")),
        "group | task": lambda: (group(header) | step(app, "noop")).apply_async(),
        "a chain holding one": lambda: chain(
            step(app, "noop"), group(header), step(app, "noop")
        ).apply_async(),
    }

    for name, attempt in attempts.items():
        with pytest.raises(ChordsRefused, match="chords are not supported on this stack"):
            attempt()
        assert stack.queue_depth() == 0, name


def test_a_chain_runs_in_order_and_passes_each_result_on(stack: LocalStack, app: Celery) -> None:
    result = chain(
        step(app, "long_task", duration=2),
        step(app, "long_task"),  # takes duration from the previous result
        step(app, "noop"),  # a task without parameters ignores it
    ).apply_async(headers=OWNED)
    second, first = result.parent, result.parent.parent

    assert result.get(timeout=30) is None
    assert second.get(timeout=1) == {"duration": 2}
    assert first.get(timeout=1) == {"duration": 2}
    # Each step started after the body before it ended.
    assert line_index(stack, first.id, "Completed work on 2") < line_index(
        stack, second.id, f"Task long_task[{second.id}] received"
    )
    assert line_index(stack, second.id, "Completed work on 2") < line_index(
        stack, result.id, f"Task noop[{result.id}] received"
    )
    # Every step is its client's: the worker sent the next ones with the first's owner.
    assert [http_state(stack, each.id)["state"] for each in (first, second, result)] == [
        "SUCCESS"
    ] * 3
    assert http_state(stack, second.id)["result"] == {"duration": 2}


def test_a_step_that_cannot_use_the_previous_result_fails_naming_the_field(
    stack: LocalStack, app: Celery
) -> None:
    result = chain(step(app, "noop"), step(app, "long_task")).apply_async(headers=OWNED)

    wait_until(
        lambda: http_state(stack, result.id)["state"] in ("FAILURE", "DEAD_LETTERED"),
        30,
        "the step to fail",
    )
    error = http_state(stack, result.id)["error"]
    assert "StepParamsError" in error and "duration: Field required" in error, error


def test_a_groups_results_are_all_collected(stack: LocalStack, app: Celery) -> None:
    # A group as a chain's last step: each member takes the previous result.
    members = group(step(app, "long_task"), step(app, "long_task", duration=2), step(app, "noop"))
    result = chain(step(app, "long_task", duration=1), members).apply_async(headers=OWNED)
    # A group on its own, saved and restored through the results table.
    alone = group(step(app, "long_task", duration=1), step(app, "noop")).apply_async(headers=OWNED)
    alone.save()

    assert result.get(timeout=30) == [{"duration": 1}, {"duration": 2}, None]
    restored = app.GroupResult.restore(alone.id)
    assert restored is not None
    assert restored.get(timeout=30) == [{"duration": 1}, None]
    for member in [*result.results, *alone.results]:
        assert http_state(stack, member.id)["state"] == "SUCCESS"


def test_a_duplicate_delivery_of_a_chain_step_runs_once(stack: LocalStack, app: Celery) -> None:
    first = step(app, "long_task", duration=1).set(task_id="dup-first")
    second = step(app, "long_task", duration=2).set(task_id="dup-second")
    # The first step's message twice, as SQS may deliver it (the same ids, the same rest)...
    chain(first.clone(), second.clone()).apply_async(headers=OWNED)
    result = chain(first.clone(), second.clone()).apply_async(headers=OWNED)
    # ...and the second step's once more, as a worker lost after sending it would.
    app.send_task(
        "long_task",
        args=({"duration": 1},),
        kwargs={"duration": 2},
        task_id="dup-second",
        headers=OWNED,
    )

    assert result.get(timeout=30) == {"duration": 2}
    # A duplicate that came while its twin ran is back after the visibility timeout (6 s).
    wait_until(
        lambda: all(dropped(stack, task_id) for task_id in ("dup-first", "dup-second")),
        60,
        "both duplicates to be dropped",
    )
    assert bodies_run(stack, "dup-first") == 1
    assert bodies_run(stack, "dup-second") == 1


def test_cancelling_a_running_step_stops_its_chain_and_revokes_the_rest(
    stack: LocalStack, app: Celery
) -> None:
    result = chain(
        step(app, "long_task", duration=6), step(app, "long_task"), step(app, "noop")
    ).apply_async(headers=OWNED)
    # 6 s: longer than a cancel takes to reach it (a 2 s heartbeat), inside its 7 s soft limit
    # (a first step's own parameters are the sender's, not checked against TASK_MAX_DURATION).
    second, first = result.parent, result.parent.parent
    wait_until(
        lambda: http_state(stack, first.id)["state"] in ("STARTED", "PROGRESS"),
        20,
        "the first step to start",
    )

    assert stack.api().delete_task(first.id).status_code == 202
    wait_until(lambda: http_state(stack, first.id)["state"] == "REVOKED", 20, "the stop")

    for later in (second, result):
        status = http_state(stack, later.id)
        assert status["state"] == "REVOKED"
        assert "cancelled with its chain" in status["error"]
    received = [line["message"] for line in worker_lines(stack)]
    assert not any(second.id in message or result.id in message for message in received)
