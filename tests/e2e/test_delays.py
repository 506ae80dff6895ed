"""Delayed tasks through real processes: they wait in SQS, never in the worker.

One stack with the short limits and hops of 3 s (DELAY_HOP_SECONDS, for tests only; 900 s
in production), so a delay of 3 s is one DelaySeconds and a longer one takes the long path.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from taskqueue.stores.queue_depth import QueueDepth, read_depth

from harness.processes import wait_until
from harness.stack import LocalStack, running
from tests.e2e.conftest import producer
from tests.short_limits import SHORT_LIMITS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

HOP_SECONDS = 3
# Celery logs each task it receives; the JSON line's time is when the worker got it.
RECEIVED = re.compile(r"Task (?P<task>\w+)\[(?P<id>[\w-]+)\] received")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto, one worker (one pool process) and the web, with hops of 3 s."""
    work_dir = tmp_path_factory.mktemp("delays")
    hops = {"DELAY_HOP_SECONDS": str(HOP_SECONDS), "WORKER_CONCURRENCY": "1"}
    with running(work_dir, **SHORT_LIMITS, **hops) as local:
        yield local


def post(stack: LocalStack, body: dict[str, Any]) -> str:
    response = stack.api().request("POST", "/tasks", json=body)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["id"]
    return task_id


def depth(stack: LocalStack) -> QueueDepth:
    return read_depth(stack.client("sqs"), stack.queue_url)


def worker_log(stack: LocalStack) -> list[dict[str, Any]]:
    """The worker's JSON log lines."""
    worker = next(p for p in stack.processes if p.name == "worker")
    lines = [line for line in worker.log().splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def received_at(stack: LocalStack, task_id: str) -> list[float]:
    """When the worker's Celery received the task (one time per delivery to Celery)."""
    times = []
    for entry in worker_log(stack):
        match = RECEIVED.search(entry["message"])
        if match and match["id"] == task_id:
            # logging's asctime: local time, to the millisecond
            times.append(datetime.strptime(entry["time"], "%Y-%m-%d %H:%M:%S,%f").timestamp())
    return times


def hops(stack: LocalStack, task_id: str) -> int:
    return sum(
        f"task {task_id} is due in" in entry["message"] and "delayed again" in entry["message"]
        for entry in worker_log(stack)
    )


def samples_until(stack: LocalStack, deadline: float) -> list[QueueDepth]:
    """The queue's counts, four times a second, until `deadline` (time.time())."""
    seen = []
    while time.time() < deadline:
        seen.append(depth(stack))
        time.sleep(0.25)
    return seen


def wait_for_state(stack: LocalStack, task_id: str, wanted: str, timeout: float) -> None:
    wait_until(lambda: stack.api().state(task_id) == wanted, timeout, f"{task_id} {wanted}")


def test_a_3_second_delay_waits_in_sqs_not_in_the_worker(stack: LocalStack) -> None:
    posted = time.time()
    task_id = post(stack, {"task": "noop", "delay_seconds": 3})

    status = stack.api().status(task_id)
    assert status["state"] == "SCHEDULED"
    due = datetime.fromisoformat(status["due"]).timestamp()
    assert posted + 3 <= due + 0.001 <= time.time() + 3.001
    meanwhile = samples_until(stack, due - 0.5)
    wait_for_state(stack, task_id, "SUCCESS", 15)

    assert meanwhile and all(s.delayed == 1 and s.in_flight == 0 for s in meanwhile), meanwhile
    [received] = received_at(stack, task_id)
    assert received >= due - 0.01  # the log's milliseconds
    assert hops(stack, task_id) == 0  # one DelaySeconds, no hop


def test_a_delay_longer_than_a_hop_takes_the_long_path(stack: LocalStack) -> None:
    task_id = post(stack, {"task": "noop", "delay_seconds": 8})
    due = datetime.fromisoformat(stack.api().status(task_id)["due"]).timestamp()

    wait_until(lambda: hops(stack, task_id) >= 1, 10, "the first hop")
    assert stack.api().state(task_id) == "SCHEDULED"
    wait_for_state(stack, task_id, "SUCCESS", 20)

    # SQS never delivers a message before its DelaySeconds, and may deliver it later (on SQS
    # and LocalStack, up to a second): hops at 3 s and 6 s, or one when a delivery came late
    # enough to leave at most 1 s; never more than two.
    assert 1 <= hops(stack, task_id) <= 2
    [received] = received_at(stack, task_id)
    assert received >= due - 1.01  # a message less than 1 s early goes to Celery


def test_a_cancelled_scheduled_task_never_runs_and_stops_hopping(stack: LocalStack) -> None:
    task_id = post(stack, {"task": "noop", "delay_seconds": 5})

    response = stack.api().delete_task(task_id)

    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["due"]) == ("REVOKED", None)
    wait_until(
        lambda: any(
            f"task {task_id} was cancelled while delayed: dropped" in entry["message"]
            for entry in worker_log(stack)
        ),
        10,
        "the hop to be dropped",
    )
    wait_until(lambda: depth(stack).total == 0, 5, "an empty queue")
    time.sleep(3)  # past its due time
    assert stack.api().state(task_id) == "REVOKED"
    assert received_at(stack, task_id) == [] and hops(stack, task_id) == 0


def test_a_countdown_from_python_code_waits_in_sqs(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = time.time()
    task_id = producer(stack, monkeypatch, "delay-test").send_task("noop", countdown=3).id
    meanwhile = samples_until(stack, sent + 2.5)
    wait_until(lambda: received_at(stack, task_id), 10, "the worker to receive it")

    assert meanwhile and all(s.delayed == 1 and s.in_flight == 0 for s in meanwhile), meanwhile
    assert received_at(stack, task_id)[0] >= sent + 3 - 0.01


def test_a_retry_with_backoff_waits_in_sqs_then_succeeds(stack: LocalStack) -> None:
    task_id = post(stack, {"task": "retry_then_succeed", "params": {"failures": 1, "countdown": 3}})

    wait_for_state(stack, task_id, "RETRY", 10)
    # The failed run's message is acknowledged just after RETRY is recorded.
    wait_until(lambda: depth(stack).in_flight == 0, 5, "the failed run's message acknowledged")
    backoff = samples_until(stack, received_at(stack, task_id)[0] + 2.5)
    wait_for_state(stack, task_id, "SUCCESS", 15)

    assert stack.api().status(task_id)["result"] == {"retries": 1}
    assert backoff and all(s.delayed == 1 and s.in_flight == 0 for s in backoff), backoff
    first, second = received_at(stack, task_id)
    assert second - first >= 3 - 0.01


def test_failures_after_max_retries_reach_the_dlq_by_the_receive_count(stack: LocalStack) -> None:
    params = {"failures": 5, "countdown": 1, "max_retries": 1}
    task_id = post(stack, {"task": "retry_then_succeed", "params": params})
    sqs = stack.client("sqs")
    dlq = sqs.get_queue_url(QueueName=stack.settings.task_dlq_name)["QueueUrl"]

    wait_until(lambda: read_depth(sqs, dlq).visible == 1, 45, "the message in the DLQ")

    [message] = sqs.receive_message(QueueUrl=dlq)["Messages"]
    headers = json.loads(base64.b64decode(message["Body"]))["headers"]
    assert (headers["id"], headers["retries"]) == (task_id, 1)  # the retry's message
    # One run that retried (its message acknowledged, so it used no receive), then the
    # retry's message received MAX_RECEIVE_COUNT times: each a real failure.
    assert len(received_at(stack, task_id)) == 1 + stack.settings.max_receive_count
    status = stack.api().status(task_id)
    assert (status["state"], status["reason"]) == ("DEAD_LETTERED", "failed 3 times")
