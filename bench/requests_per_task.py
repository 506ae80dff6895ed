"""Every request one short task costs, the web's and the worker's, by action: `python -m
bench.requests_per_task` (about a minute; prints a table, writes nothing).

The web and the worker each talk to the endpoint through a counting proxy (bench.proxy); N
`noop` tasks are queued through the web one after another (a client's first request's key
lookup is made before the count) and the requests both make until the queue is empty, and a
second more, are counted per task. The worker's presence writes are its own, not a task's:
left out. With the cap of waiting tasks on (CLIENT_MAX_WAITING's default) and off (0), each
two ways: "trickle", the worker running while the tasks arrive (each mostly alone in it), and
"drain", the worker started once all are queued (its pool slots busy until the queue is
empty).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.proxy import CountingProxy, Request
from harness.processes import exit_on_signals, wait_until
from harness.stack import LocalStack

# After the queue is empty: the last deletes (batched: half a second at most) and writes.
SETTLE_S = 1.5


def per_action(requests: list[Request], tasks: int) -> dict[str, float]:
    """Requests per task by `service:action`."""
    counts = Counter(f"{r.service}:{r.action}" for r in requests if not r.presence)
    return {action: count / tasks for action, count in sorted(counts.items())}


def count(cap: int, tasks: int, drain: bool) -> dict[str, dict[str, float]]:
    """The web's and the worker's requests per `noop` task, with CLIENT_MAX_WAITING `cap`,
    the worker started before the tasks are queued or (`drain`) after."""
    local = LocalStack(work_dir=Path(tempfile.mkdtemp(prefix="requests-per-task-")))
    try:
        local.start_aws()
        with (
            CountingProxy(upstream_port=local.aws_port) as worker_proxy,
            CountingProxy(upstream_port=local.aws_port) as web_proxy,
        ):
            worker = {"AWS_ENDPOINT_URL": worker_proxy.url, "CLIENT_MAX_WAITING": str(cap)}
            if not drain:
                local.start_worker(**worker)
            local.start_web(AWS_ENDPOINT_URL=web_proxy.url, CLIENT_MAX_WAITING=str(cap))
            api = local.api()
            api.get("/workers")  # the key's lookup, cached from now on
            opened = time.time()
            for _ in range(tasks):
                api.enqueue("noop")
            if drain:
                local.start_worker(**worker)
            wait_until(lambda: local.queue_depth() == 0, 120, "the queue to empty")
            time.sleep(SETTLE_S)
            closed = time.time()
            return {
                side: per_action([r for r in proxy.requests(since=opened) if r.at < closed], tasks)
                for side, proxy in (("web", web_proxy), ("worker", worker_proxy))
            }
    finally:
        local.stop()


def table(counts: dict[str, dict[str, dict[str, float]]]) -> str:
    """Markdown: a row per side and action, a column per count."""
    columns = list(counts)
    rows = sorted({(side, action) for c in counts.values() for side in c for action in c[side]})
    lines = [
        "| side | request | " + " | ".join(columns) + " |",
        "| --- | --- |" + " --- |" * len(columns),
    ]
    for side, action in rows:
        figures = [f"{counts[column][side].get(action, 0.0):.2f}" for column in columns]
        lines.append(f"| {side} | {action} | " + " | ".join(figures) + " |")
    totals = [f"{sum(sum(s.values()) for s in counts[column].values()):.2f}" for column in columns]
    lines.append("| | **total** | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def main() -> None:
    """Count with the cap on and off; print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.requests_per_task")
    parser.add_argument("--tasks", type=int, default=50, help="noop tasks per count")
    args = parser.parse_args()
    exit_on_signals()
    print(
        table(
            {
                f"cap {cap}, {'drain' if drain else 'trickle'}": count(cap, args.tasks, drain)
                for cap in (1000, 0)
                for drain in (False, True)
            }
        )
    )


if __name__ == "__main__":
    main()
