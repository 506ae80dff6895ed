"""The worker's requests per task, counted where they arrive: the worker talks to the endpoint
through a counting proxy. A task's progress reports are written at most once an interval, its
newest one always (a task reports PROGRESS every 0.1 s for 3 s, `frequent_progress`;
taskqueue.runtime.progress_writes), and tasks that finish together have their messages
deleted in one request (taskqueue.runtime.batched_deletes)."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from taskqueue_cli.api import TaskApi

from bench.proxy import CountingProxy, Request
from harness.processes import Process, wait_until
from harness.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# The worker's interval here: 3 s of reports every 0.1 s, 30 reports, make at most 4 writes.
INTERVAL = 1.0
# How much later than an interval a write may reach the proxy than its clock reading in the
# worker (a loaded machine's scheduling between the two).
ARRIVAL_JITTER = 0.2


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, CountingProxy]]:
    """moto, the web, and a worker whose every request goes through a counting proxy."""
    local = LocalStack(work_dir=tmp_path_factory.mktemp("stack"))
    try:
        local.start_aws()
        with CountingProxy(upstream_port=local.aws_port) as proxy:
            local.start_worker(AWS_ENDPOINT_URL=proxy.url, PROGRESS_WRITE_INTERVAL=str(INTERVAL))
            local.start_web()
            yield local, proxy
    finally:
        local.stop()


def progress_writes(proxy: CountingProxy, since: float, until: float) -> list[Request]:
    """The worker's PROGRESS writes that reached the endpoint in [since, until)."""
    return [
        r for r in proxy.requests(since=since, service="dynamodb") if r.progress and r.at < until
    ]


def start(proxied: tuple[LocalStack, CountingProxy]) -> tuple[TaskApi, Process, float]:
    """A test's API, the worker, and when its count starts (after the last request so far)."""
    stack, proxy = proxied
    worker = next(p for p in stack.processes if p.name == "worker")
    return stack.api(), worker, proxy.requests()[-1].at if proxy.requests() else 0.0


def test_reports_every_tenth_of_a_second_are_written_once_an_interval_and_the_last_is_shown(
    proxied: tuple[LocalStack, CountingProxy],
) -> None:
    proxy = proxied[1]
    api, worker, before = start(proxied)

    task_id = api.enqueue("frequent_progress", {"duration": 3, "every": 0.1, "hold": 5})
    # The last report (30 of 30) is shown while the task still runs, though no report follows.
    wait_until(
        lambda: api.status(task_id)["progress"] == {"current": 30, "total": 30},
        20,
        "the last report to be shown",
        worker,
    )
    assert api.state(task_id) == "PROGRESS"
    wait_until(lambda: api.state(task_id) == "SUCCESS", 30, "the task to succeed", worker)
    ended = proxy.requests()[-1].at

    writes = progress_writes(proxy, before, ended)
    # The reports span 3 s: a write at the first, one per interval, the last one held.
    assert 2 <= len(writes) <= math.floor(3 / INTERVAL) + 1
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(writes)]
    assert all(gap >= INTERVAL - ARRIVAL_JITTER for gap in gaps), gaps


def test_a_final_state_is_written_at_once_and_nothing_held_follows_it(
    proxied: tuple[LocalStack, CountingProxy],
) -> None:
    proxy = proxied[1]
    api, worker, before = start(proxied)

    # Five reports inside one interval, then the end: the first is written, the rest held,
    # and the SUCCESS that follows drops them.
    short = api.enqueue("frequent_progress", {"duration": 0.5, "every": 0.1})
    wait_until(lambda: api.state(short) == "SUCCESS", 30, "the short task to succeed", worker)
    succeeded = proxy.requests()[-1].at
    # Then a task whose one report comes two intervals after its start: a held write of the
    # short task would reach the endpoint before it.
    later = api.enqueue("frequent_progress", {"duration": 2 * INTERVAL, "every": 2 * INTERVAL})
    wait_until(lambda: api.state(later) == "SUCCESS", 30, "the later task to succeed", worker)

    assert api.state(short) == "SUCCESS"
    assert len(progress_writes(proxy, before, succeeded)) == 1
    assert len(progress_writes(proxy, succeeded, math.inf)) == 1  # the later task's own


def test_tasks_that_finish_while_others_run_are_deleted_in_batches_and_the_queue_empties(
    proxied: tuple[LocalStack, CountingProxy],
) -> None:
    stack, proxy = proxied
    api, worker, before = start(proxied)

    # 20 tasks queued at once: a backlog, so the worker's two slots finish tasks side by side.
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: api.enqueue("noop"), range(20)))
    wait_until(lambda: stack.queue_depth() == 0, 30, "every message to be deleted", worker)

    assert {api.state(task_id) for task_id in ids} == {"SUCCESS"}
    deletes = Counter(
        r.action for r in proxy.requests(since=before, service="sqs") if "Delete" in r.action
    )
    assert deletes["DeleteMessageBatch"] >= 1, deletes
    assert deletes.total() < len(ids), deletes
