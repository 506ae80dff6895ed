"""What keeping one task running costs at the endpoint: SQS and DynamoDB requests per hour.

A worker behind the counting proxy runs one `long_task`; over a window inside the task's run,
every request it makes is counted by service and action. Two kinds are not the running task's
cost and are left out of the headline figures (all are in the details): ReceiveMessage, the
long polls of the worker's free pool slot (the idle cost, counted by `bench.idle`), the
task's own PROGRESS writes (long_task records its progress once a second), and the worker's
presence writes (one per WORKER_PRESENCE_INTERVAL per worker, busy or not). What remains is
what the worker spends to keep the task running: visibility extensions (ChangeMessageVisibility)
and lease renewals (DynamoDB) once the worker extends visibility, nothing without it. The window
is scaled to an hour.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.pickup import wait_for_stamp, wait_for_start
from bench.proxy import CountingProxy, Request
from bench.workers import WorkerConfig, start_worker
from harness.stack import LocalStack

# Seconds of the task before the window opens and after it closes: its start and its end
# (the state writes, the acknowledgement) stay outside.
MARGIN_S = 3.0


@dataclass(frozen=True)
class RunningTaskCounts:
    """Requests over a window in which one task ran, by kind."""

    window_s: float
    by_action: dict[str, int]
    """Every request of the window, "service:action" -> count (progress writes apart)."""

    def per_hour(self, service: str) -> float:
        """`service`'s requests for keeping the task running, scaled to one hour."""
        spent = sum(
            count
            for action, count in self.by_action.items()
            if action.startswith(f"{service}:") and action not in EXCLUDED
        )
        return spent * 3600 / self.window_s


EXCLUDED = {
    "sqs:ReceiveMessage",
    "dynamodb:UpdateItem (progress)",
    "dynamodb:UpdateItem (presence)",
}
"""Not the running task's cost: the free slot's long polls, the task's own progress writes,
the worker's presence writes."""


def window_for(max_duration: int, wanted_s: float) -> float:
    """The longest window up to `wanted_s` that a long_task the web accepts can cover."""
    return max(1.0, min(wanted_s, max_duration - 2 * MARGIN_S))


def count_running_task(
    stack: LocalStack, config: WorkerConfig, window_s: float, work_dir: Path
) -> RunningTaskCounts:
    """Run one long_task behind the proxy and count the requests of `window_s` inside it."""
    window_s = window_for(stack.settings.task_max_duration, window_s)
    duration = int(window_s + 2 * MARGIN_S + 0.999)
    stamps = work_dir / f"{config.key}-heartbeat-stamps"
    stamps.unlink(missing_ok=True)
    with CountingProxy(upstream_port=stack.aws_port) as proxy:
        worker = start_worker(stack, config, stamps, endpoint_url=proxy.url)
        try:
            with requests.Session() as session:
                task_id = stack.api(session=session).enqueue("long_task", {"duration": duration})
            opened = wait_for_start(stamps, task_id) + MARGIN_S
            time.sleep(max(0.0, opened - time.time()) + window_s)
            closed = opened + window_s
            wait_for_stamp(stamps, task_id, "end", poll_s=0.1, timeout=duration + 30)
        finally:
            worker.stop()
        seen = [r for r in proxy.requests(since=opened) if r.at < closed]
    return RunningTaskCounts(
        window_s=window_s, by_action=dict(sorted(Counter(map(_kind, seen)).items()))
    )


def _kind(request: Request) -> str:
    kind = f"{request.service}:{request.action}"
    if request.presence:
        return f"{kind} (presence)"
    return f"{kind} (progress)" if request.progress else kind
