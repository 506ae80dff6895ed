"""SQS requests at the endpoint: an idle worker's, then a busy one's per task.

The worker runs behind a counting proxy. First it sits idle for the window (its polls are
the idle cost); then a few noop tasks are queued and the requests it makes for them are
counted by action (what one task costs the endpoint). Under the latency model (`model`) the
proxy also delays each response, and only the requests per task are wanted (no window).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.latency import LatencyModel
from bench.pickup import wait_for_end
from bench.proxy import CountingProxy
from bench.workers import WorkerConfig, start_worker
from harness.stack import LocalStack

# After the heartbeat appears, let start-up requests pass before the window opens.
SETTLE_S = 2.0


@dataclass(frozen=True)
class RequestCounts:
    """Idle SQS requests over the window; every request per task while busy."""

    window_s: float
    idle_requests: int
    idle_by_action: dict[str, int]
    per_task: dict[str, float]

    @property
    def idle_per_hour(self) -> float:
        return self.idle_requests * 3600 / self.window_s


def count_requests(
    stack: LocalStack,
    config: WorkerConfig,
    window_s: float,
    tasks: int,
    work_dir: Path,
    model: LatencyModel | None = None,
) -> RequestCounts:
    """Count one worker's SQS requests idle for `window_s`, then its requests for `tasks`
    (behind `model`'s delays, if given)."""
    stamps = work_dir / f"{config.key}-count-stamps"
    stamps.unlink(missing_ok=True)
    with CountingProxy(upstream_port=stack.aws_port, model=model) as proxy:
        worker = start_worker(stack, config, stamps, endpoint_url=proxy.url)
        try:
            time.sleep(SETTLE_S)
            opened = time.time()
            time.sleep(window_s)
            closed = time.time()
            with requests.Session() as session:
                api = stack.api(session=session)
                ids = [api.enqueue("noop") for _ in range(tasks)]
            for task_id in ids:
                wait_for_end(stamps, task_id)
            # The acknowledgement (DeleteMessage) follows the task's end.
            time.sleep(1.0)
            done = time.time()
        finally:
            worker.stop()
        idle = [r for r in proxy.requests(since=opened, service="sqs") if r.at < closed]
        # The presence writes are the worker's, one per interval busy or not: not per task.
        busy = [r for r in proxy.requests(since=closed) if r.at < done and not r.presence]
    busy_actions = Counter(f"{r.service}:{r.action}" for r in busy)
    return RequestCounts(
        window_s=closed - opened,
        idle_requests=len(idle),
        idle_by_action=dict(Counter(r.action for r in idle)),
        per_task={action: count / tasks for action, count in sorted(busy_actions.items())},
    )
