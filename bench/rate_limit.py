"""A rate shared by three workers: the starts it lets through, what it costs, who it slows.

`python -m bench.rate_limit [--quick]` runs only this part on a stack of its own and puts
its section into `results.json`/`results.md` (bench/, or bench/tmp/quick/ with --quick);
the full `make bench` runs it too. Three workers of this project (concurrency 2 each) talk
to moto through the counting proxy (bench.proxy); the diagnostic task `limited` is declared
at 5/s, burst 1 (devstack/diagnostic_tasks.py), and returns when its body started.

- **Starts**: N `limited` tasks queued at once through the web; the most body starts in
  any one-second window, beside the bound (rate + burst), and the span of the starts.
- **Cost**: the workers' requests while those N ran, per task and by action, beside the
  same count for N `noop` tasks (no rate) on the same workers. ReceiveMessage (the free
  slots' long polls, whatever the tasks) and presence writes (per worker, not per task)
  are shown apart.
- **Other tasks**: the pickup latency of `noop` tasks sent one at a time (bench.pickup) while
  the workers are idle, then while a second backlog of N `limited` tasks waits for turns
  (how many of it still waited when those pickups began and when they ended).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from taskqueue.catalogue.rates import parse_rate
from taskqueue_cli.api import TaskApi

from bench import report
from bench.part import part_main
from bench.pickup import measure_pickup
from bench.plan import Plan
from bench.proxy import CountingProxy, Request
from bench.stackops import empty_queue, say
from bench.workers import PROJECT, start_worker
from devstack.diagnostic_tasks import LIMITED_BURST, LIMITED_RATE
from harness.processes import Process, wait_until
from harness.stack import LocalStack

BENCH_DIR = Path(__file__).resolve().parent
WORKERS = 3
CONCURRENCY = 2
# Kinds of request that are not any one task's: the free slots' polls, the presence writes.
APART = ("sqs:ReceiveMessage", "dynamodb:UpdateItem (presence)")


def action_of(request: Request) -> str:
    """ "service:action", presence writes named apart."""
    return f"{request.service}:{request.action}" + (" (presence)" if request.presence else "")


def most_in_one_second(starts: list[float]) -> int:
    """The most starts in any window [t, t + 1 s) (the busiest begins at a start)."""
    return max(sum(start <= other < start + 1 for other in starts) for start in starts)


def drain(api: TaskApi, task: str, count: int, timeout: float) -> list[str]:
    """Queue `count` tasks `task` at once and wait until all succeeded (the task list, one
    Query per look: reading each task would load the endpoint the workers use)."""
    ids = [api.enqueue(task) for _ in range(count)]
    wait_until(lambda: succeeded(api, ids) == count, timeout, f"{count} {task} tasks to succeed")
    return ids


def succeeded(api: TaskApi, ids: list[str]) -> int:
    """How many of `ids` have succeeded, from the newest succeeded tasks: a page of 100 per
    Query, until one holds none of them."""
    done, cursor = 0, None
    while True:
        page = api.list_tasks(state="SUCCESS", limit=100, cursor=cursor).json()
        found = len({item["id"] for item in page["items"]} & set(ids))
        done, cursor = done + found, page["next_cursor"]
        if not found or cursor is None:
            return done


def requests_per_task(proxy: CountingProxy, since: float, count: int) -> dict[str, float]:
    """The requests the workers made since `since`, by action, per task."""
    counted = Counter(action_of(r) for r in proxy.requests(since=since))
    return {action: number / count for action, number in sorted(counted.items())}


def headline(by_action: dict[str, float]) -> float:
    """Requests per task but the ones that are no task's."""
    return sum(number for action, number in by_action.items() if action not in APART)


def measure_rate_limit(stack: LocalStack, plan: Plan, work_dir: Path) -> dict[str, Any]:
    """Every figure on a running stack (moto and the web started)."""
    count = plan.rate_limit_tasks
    load_start = os.getloadavg()[0]
    rate = parse_rate(LIMITED_RATE, LIMITED_BURST)
    api = stack.api()
    stamps = work_dir / "rate-limit-stamps"
    workers: list[Process] = []
    empty_queue(stack)
    with CountingProxy(stack.aws_port) as proxy:
        try:
            for number in range(WORKERS):
                env = {
                    "WORKER_CONCURRENCY": str(CONCURRENCY),
                    "WORKER_HEARTBEAT_FILE": str(work_dir / f"rate-worker{number}-heartbeat"),
                }
                workers.append(start_worker(stack, PROJECT, stamps, proxy.url, env=env))
            say(f"rate limit: {count} noop tasks on {WORKERS} workers")
            since = time.time()
            drain(api, "noop", count, plan.deadline_s)
            noop = requests_per_task(proxy, since, count)
            say(f"rate limit: {count} limited tasks at {rate}")
            since = time.time()
            ids = drain(api, "limited", count, plan.deadline_s)
            limited = requests_per_task(proxy, since, count)
            results = [api.status(task_id)["result"] for task_id in ids]
            starts = sorted(result["started"] for result in results)
            say(f"rate limit: {plan.rate_limit_pickups} noop pickups idle, then behind a backlog")
            rng = random.Random(7)
            gaps = plan.rate_limit_pickup_gap_s
            idle = measure_pickup(
                stack.web_url, stamps, plan.rate_limit_pickups, gaps, rng, api_key=stack.api_key
            )
            backlog = [api.enqueue("limited") for _ in range(count)]
            waiting_before = count - succeeded(api, backlog)
            busy = measure_pickup(
                stack.web_url, stamps, plan.rate_limit_pickups, gaps, rng, api_key=stack.api_key
            )
            waiting_after = count - succeeded(api, backlog)
        finally:
            for worker in workers:
                worker.stop()
    return {
        "rate_limit_max_starts_in_1s": most_in_one_second(starts),
        "rate_limit_bound": rate.count + rate.burst,
        "rate_limit_starts_per_s": (count - 1) / (starts[-1] - starts[0]),
        "rate_limit_requests_per_task": headline(limited),
        "rate_limit_noop_requests_per_task": headline(noop),
        "rate_limit_pickup_idle_ms": statistics.median(idle.latencies) * 1000,
        "rate_limit_pickup_behind_backlog_ms": statistics.median(busy.latencies) * 1000,
        "details": {
            "tasks": count,
            "workers": WORKERS,
            "concurrency": CONCURRENCY,
            "rate": str(rate),
            "workers_that_ran_limited": len({result["worker"] for result in results}),
            "sent_back": sum(result["turn"] is not None for result in results),
            "limited_requests_per_task": limited,
            "noop_requests_per_task": noop,
            "pickups": plan.rate_limit_pickups,
            "pickup_idle_s": idle.latencies,
            "pickup_behind_backlog_s": busy.latencies,
            "backlog_waiting_before_pickups": waiting_before,
            "backlog_waiting_after_pickups": waiting_after,
            "load_avg_1m": {"start": load_start, "end": os.getloadavg()[0]},
        },
    }


# Run alone: on a stack of its own, its section merged into the results (or starting them).
main = part_main(
    "bench.rate_limit",
    "rate_limit",
    measure_rate_limit,
    report.rate_limit_markdown,
    __doc__,
)


if __name__ == "__main__":
    main()
