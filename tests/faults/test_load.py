"""Load on loopback: 20 clients for 30 s, no errors, every task completes, memory stays flat.

Each client queues a task (`noop`, every fourth a 1-second `long_task`) and polls its status
until it is done, then queues the next: the real gunicorn and `celery worker` (4 pool
processes) against moto. The RSS of every web and worker process is read after a warm-up
round of the same load and again when the measured load has drained.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.resources import MB
from harness.processes import wait_until
from harness.stack import LocalStack
from tests.faults.conftest import dlq_messages, wait_for_states
from tests.faults.load_support import LoadPlan, RssSampler, closed_loop

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

CLIENTS = 20
WARM_UP_SECONDS = 5
LOAD_SECONDS = 30
MAX_TASKS = 3000  # a bound on top of the time: the queue never runs away from the worker
# Flat: no process grows by more than this between the warm-up and the end.
RSS_GROWTH_LIMIT = 25 * MB


def task_for(n: int) -> dict[str, Any]:
    """The n-th task: mostly `noop` (the queue's own cost), every fourth a 1-second task."""
    if n % 4 == 0:
        return {"task": "long_task", "params": {"duration": 1}}
    return {"task": "noop"}


def rss_table(before: dict[str, int], after: dict[str, int]) -> str:
    """One line per process: RSS after the warm-up, at the end, and the growth, in MB."""
    return "\n".join(
        f"  {name}: {before[name] / MB:.1f} -> {after.get(name, 0) / MB:.1f} MB "
        f"({(after.get(name, 0) - before[name]) / MB:+.1f})"
        for name in before
    )


def test_twenty_clients_for_thirty_seconds_no_errors_all_complete_and_rss_flat(
    stack: LocalStack,
) -> None:
    web = stack.start_web()
    worker = stack.start_worker(WORKER_CONCURRENCY="4")
    warm_up = closed_loop(
        stack.web_url,
        LoadPlan(CLIENTS, WARM_UP_SECONDS, MAX_TASKS, task_for),
        api_key=stack.api_key,
    )
    wait_for_states(stack, warm_up.accepted, {"SUCCESS"}, timeout=30)
    rss = RssSampler([web, worker])
    before = rss.sample()

    with rss:
        load = closed_loop(
            stack.web_url,
            LoadPlan(CLIENTS, LOAD_SECONDS, MAX_TASKS, task_for),
            api_key=stack.api_key,
        )

    wait_for_states(stack, load.accepted, {"SUCCESS"}, timeout=30)
    wait_until(lambda: stack.queue_depth() == 0, 30, "the queue to drain")
    after = rss.sample()
    print(f"\nwarm-up: {warm_up.summary()}\nload: {load.summary()}")
    print(f"RSS after warm-up -> at the end:\n{rss_table(before, after)}")
    print(f"RSS every {rss.interval:.0f}s (MB):\n{rss.series()}")
    assert warm_up.errors == [] and load.errors == [], (warm_up.errors + load.errors)[:20]
    assert load.completed == len(load.accepted) >= CLIENTS
    assert dlq_messages(stack) == 0
    # Effect once: each accepted long_task's body ran once (its last log line), none twice.
    long_tasks = warm_up.accepted_by_task["long_task"] + load.accepted_by_task["long_task"]
    assert worker.log().count("Completed work on 1") == long_tasks
    assert after.keys() == before.keys(), "a web or worker process died or was replaced"
    growth = {name: after[name] - before[name] for name in before}
    assert all(grown < RSS_GROWTH_LIMIT for grown in growth.values()), rss_table(before, after)
