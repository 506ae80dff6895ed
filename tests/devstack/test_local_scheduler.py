"""`make run`'s local scheduler fires a rate(1 minute) schedule on time, with the message and
the task id EventBridge Scheduler would send."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from taskqueue.catalogue.registry import TASKS
from taskqueue.catalogue.schedules import Schedule, fire_message, message_template, task_id
from taskqueue.tasks.noop import NoopParams

from devstack.procfile import read_procfile
from harness.processes import Process, start, wait_until
from harness.stack import REPO_ROOT, LocalStack

# The declaration of tests/devstack/tick_schedule.py, built here without registering it.
TICK = Schedule(name="tick", spec=TASKS["noop"], params=NoopParams(), expression="rate(1 minute)")


def test_the_procfile_runs_the_local_scheduler_once_the_queue_answers() -> None:
    entries = read_procfile(REPO_ROOT / "Procfile")

    assert entries["scheduler"][-3:] == ["python", "-m", "devstack.local_scheduler"]
    assert entries["scheduler"][:3] == ["python", "-m", "devstack.wait_for_queue"]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    """moto's server with the queue; the test starts the scheduler."""
    local = LocalStack(work_dir=tmp_path)
    try:
        local.start_aws()
        yield local
    finally:
        local.stop()


def announced_fire(scheduler: Process) -> datetime | None:
    """The next fire of `tick` the scheduler logged on start."""
    for line in scheduler.log().splitlines():
        if line.startswith("{") and "tick (rate(1 minute)): next fire " in line:
            return datetime.fromisoformat(json.loads(line)["message"].rsplit(" ", 1)[1])
    return None


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_a_rate_of_one_minute_fires_on_the_minute(stack: LocalStack) -> None:
    started = datetime.now(UTC)
    argv = [
        sys.executable,
        "-m",
        "devstack.local_scheduler",
        "--also",
        "tests.devstack.tick_schedule",
    ]
    scheduler = start(
        "scheduler", argv, {**stack.env, "PYTHONPATH": str(REPO_ROOT)}, stack.work_dir
    )
    stack.processes.append(scheduler)
    wait_until(lambda: announced_fire(scheduler) is not None, 30, "the scheduler", scheduler)
    boundary = announced_fire(scheduler)
    assert boundary is not None
    assert boundary.second == 0 and started < boundary <= started + timedelta(seconds=90)
    sqs = stack.client("sqs")
    received: list[dict[str, Any]] = []

    def a_tick() -> bool:
        answer = sqs.receive_message(
            QueueUrl=stack.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["SentTimestamp"],
        )
        for message in answer.get("Messages", []):
            # The shipped queue-report fires too, on the minutes that are multiples of five.
            if json.loads(message["Body"])["headers"]["task"] == "noop":
                received.append(message)
        return bool(received)

    wait_until(a_tick, (boundary - datetime.now(UTC)).total_seconds() + 15, "the tick", scheduler)

    [message] = received
    sent = datetime.fromtimestamp(int(message["Attributes"]["SentTimestamp"]) / 1000, UTC)
    assert boundary <= sent < boundary + timedelta(seconds=5)
    expected = fire_message(message_template(TICK, stack.settings.task_queue_name), boundary)
    assert message["Body"] == expected
    assert json.loads(message["Body"])["headers"]["id"] == task_id("tick", boundary)
