"""Prefork or threads for I/O-bound tasks, under the latency model (issue 24).

`python -m bench.pools [--quick]` runs this phase alone on a stack of its own (bench.part);
`bench.run` calls `measure_pools` inside its modelled network.

Each drain: N `frequent_progress` tasks (sleep `IO_WAIT_S`, then one PROGRESS write: a
DynamoDB request through the model) queued through the web on loopback (the fill is not
timed), then one worker of the project's app drains them through the model's proxy, with the
prefork pool or the thread pool at a given concurrency. Figures per drain: tasks/s (first
start to last end), the worker's CPU per task, its RSS and PSS (main process and pool
processes) after the drain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.drain import worker_drain
from bench.enqueue import web_enqueue
from bench.network import Network, modelled
from bench.part import part_main
from bench.plan import Plan
from bench.report import pools_markdown
from bench.resources import tree_pss_mb, tree_rss_mb
from bench.stackops import empty_queue, require_all, say
from bench.workers import PROJECT, WorkerConfig
from harness.stack import LocalStack

IO_WAIT_S = 0.3
"""Each task's wait on I/O besides its PROGRESS write: a call to a slow outside service."""
IO_TASK = "frequent_progress"
IO_PARAMS = {"duration": IO_WAIT_S, "every": IO_WAIT_S}
FILL_CONCURRENCY = 8

THREADS = WorkerConfig(
    key="threads",
    title="this project, thread pool",
    app="bench.threads_worker:celery",
    settings="as this project; --pool threads",
)
POOLS = {"prefork": PROJECT, "threads": THREADS}


def io_fill(stack: LocalStack, total: int, deadline_s: float) -> None:
    """Queue `total` I/O-bound tasks through the stack's own web (loopback: not timed)."""
    result = web_enqueue(
        stack.web_url,
        total,
        FILL_CONCURRENCY,
        deadline_s,
        api_key=stack.api_key,
        task=IO_TASK,
        params=IO_PARAMS,
    )
    require_all(result, total, "I/O-bound fill")


def pool_drain(
    stack: LocalStack, plan: Plan, work_dir: Path, net: Network, pool: str, concurrency: int
) -> dict[str, Any]:
    """One worker on `pool` at `concurrency` drains the queued I/O-bound tasks through `net`."""
    total = plan.pools_tasks
    say(f"pools, {net.key}: {total} I/O-bound tasks, {pool} pool, concurrency {concurrency}")
    empty_queue(stack)
    io_fill(stack, total, plan.deadline_s)
    stamps = work_dir / f"pools-{pool}-{concurrency}-stamps"
    drain, worker = worker_drain(
        stack,
        POOLS[pool],
        total,
        stamps,
        plan.deadline_s,
        env={"WORKER_CONCURRENCY": str(concurrency)},
        endpoint_url=net.endpoint_url,
    )
    try:
        rss, pss = tree_rss_mb(worker.pid), tree_pss_mb(worker.pid)
    finally:
        worker.stop()
    return {
        "pool": pool,
        "concurrency": concurrency,
        "tasks_per_s": drain.per_s,
        "worker_cpu_ms_per_task": drain.cpu_ms_per_task,
        "rss_worker_mb": rss,
        "pss_worker_mb": pss,
        "wall_s": drain.elapsed_s,
    }


def measure_pools(stack: LocalStack, plan: Plan, work_dir: Path, net: Network) -> dict[str, Any]:
    """Prefork and threads at the worker's concurrency, then both at the higher concurrency
    (what threads can run in prefork's memory, and what prefork would need for it)."""
    low, high = stack.settings.worker_concurrency, plan.pools_high_concurrency
    runs = [("prefork", low), ("threads", low), ("threads", high), ("prefork", high)]
    return {
        "io_task": IO_TASK,
        "io_params": IO_PARAMS,
        "tasks": plan.pools_tasks,
        "network": net.key,
        "drains": [pool_drain(stack, plan, work_dir, net, pool, c) for pool, c in runs],
    }


def measure_alone(stack: LocalStack, plan: Plan, work_dir: Path) -> dict[str, Any]:
    """This phase on a stack of its own: the model's network opened for it."""
    with modelled(stack) as network:
        return measure_pools(stack, plan, work_dir, network)


main = part_main("bench.pools", "pools", measure_alone, pools_markdown, __doc__)


if __name__ == "__main__":
    main()
