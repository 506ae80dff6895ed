"""A rate shared by all workers, through real processes: three workers, `limited` at 5/s.

One stack: moto, the web and three worker processes of one pool slot each, so a task that
held its slot while waiting for its turn would stop every other task behind it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from taskqueue.catalogue.rates import parse_rate
from taskqueue.stores.queue_depth import read_depth

from devstack.diagnostic_tasks import LIMITED_BURST, LIMITED_RATE
from harness.processes import wait_until
from harness.stack import LocalStack, running

pytestmark = [pytest.mark.e2e]

WORKERS = 3
# Six seconds of turns at 5/s: enough windows to count, short enough for the suite.
TASKS = 30


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto, the web and three workers of concurrency 1."""
    work_dir = tmp_path_factory.mktemp("rate-limits")
    with running(work_dir, worker=False, WORKER_CONCURRENCY="1") as local:
        for number in range(WORKERS):
            heartbeat = str(work_dir / f"worker{number}-heartbeat")
            local.start_worker(f"worker{number}", WORKER_HEARTBEAT_FILE=heartbeat)
        yield local


def worker_messages(stack: LocalStack) -> list[str]:
    """Every JSON log line's message of the three workers."""
    messages = []
    for process in stack.processes:
        if process.name.startswith("worker"):
            lines = [line for line in process.log().splitlines() if line.startswith("{")]
            messages += [json.loads(line)["message"] for line in lines]
    return messages


def succeeded(stack: LocalStack) -> int:
    """How many runs of `limited` the workers logged as succeeded."""
    return sum("Task limited[" in m and "] succeeded" in m for m in worker_messages(stack))


def most_in_one_second(starts: list[float]) -> int:
    """The most starts in any one-second window [t, t + 1 s) (the busiest begins at a start)."""
    return max(sum(start <= other < start + 1 for other in starts) for start in starts)


def test_the_count_of_a_window_is_the_starts_in_it() -> None:
    assert most_in_one_second([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2]) == 5
    assert most_in_one_second([0.0, 0.1, 0.99, 1.5]) == 3


@pytest.mark.timeout(120)
def test_a_limited_task_keeps_its_rate_across_workers_and_holds_no_slot_while_it_waits(
    stack: LocalStack,
) -> None:
    api = stack.api()
    rate = parse_rate(LIMITED_RATE, LIMITED_BURST)
    limited = [api.enqueue("limited") for _ in range(TASKS)]
    quick = api.enqueue("noop")

    # The last one waits for a turn seconds ahead, and says so.
    wait_until(lambda: api.status(limited[-1])["reason"] == "rate limited", 30, "a turn")
    waiting = api.status(limited[-1])
    assert waiting["state"] == "SCHEDULED" and waiting["due"] is not None
    # The quick task queued after all of them is not stuck behind them.
    wait_until(lambda: api.state(quick) == "SUCCESS", 30, "the quick task")
    quick_done = datetime.now().timestamp()
    # Read from the logs, not the web: polling 30 states would load the one endpoint.
    wait_until(lambda: succeeded(stack) >= TASKS, 60, "the limited tasks")

    results: list[dict[str, Any]] = [api.status(task_id)["result"] for task_id in limited]
    starts = sorted(result["started"] for result in results)
    assert most_in_one_second(starts) <= rate.count + rate.burst, starts
    assert len({result["worker"] for result in results}) >= 2  # the rate held across workers
    assert sum(start > quick_done for start in starts) >= rate.count, (quick_done, starts)
    assert all(api.state(task_id) == "SUCCESS" for task_id in limited)
    messages = worker_messages(stack)
    for task_id in limited:  # each ran once
        assert sum(f"Task limited[{task_id}] succeeded" in m for m in messages) == 1
    assert sum("sent back for its turn" in m for m in messages) >= TASKS // 2
    sqs = stack.client("sqs")
    dlq = sqs.get_queue_url(QueueName=stack.settings.task_dlq_name)["QueueUrl"]
    assert read_depth(sqs, dlq).total == 0  # waiting counted no receive towards the DLQ
