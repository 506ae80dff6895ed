"""The two worker configurations, started as the worker image starts: `taskqueue-worker`.

Only ``--app`` differs: a bench module that imports `worker_service.worker` and adds task
stamps (and, for the seed, its three settings). No shared code is edited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.stamps import STAMPS_FILE_VAR
from harness.processes import Process, start, wait_until
from harness.stack import REPO_ROOT, WORKER_ARGV, LocalStack


@dataclass(frozen=True)
class WorkerConfig:
    """A named Celery worker configuration under test."""

    key: str
    title: str
    app: str
    settings: str


PROJECT = WorkerConfig(
    key="project",
    title="this project",
    app="bench.project_worker:celery",
    settings="polling_interval 0, wait_time_seconds 20, late ack, prefetch 1",
)
# The project's worker that also times its metrics records (bench.metrics_cost).
METRICS_TIMED = WorkerConfig(
    key="metrics-timed",
    title="this project, metrics records timed",
    app="bench.metrics_worker:celery",
    settings="as this project; emit timed in the pool processes",
)
SEED = WorkerConfig(
    key="baseline",
    title="seed baseline",
    app="bench.seed_worker:celery",
    settings="polling_interval 5, wait_time_seconds 5, early ack, prefetch 1",
)


def worker_argv(app: str) -> list[str]:
    """The worker image's command with `--app` pointing at `app`."""
    return [*WORKER_ARGV, f"--app={app}"]


def start_worker(
    stack: LocalStack,
    config: WorkerConfig,
    stamps_file: Path,
    endpoint_url: str | None = None,
    wait_ready: bool = True,
    env: Mapping[str, str] | None = None,
) -> Process:
    """Start one worker of `config`; through `endpoint_url` (a proxy) if given; `env`: more
    variables (TASK_METRICS for bench.metrics_cost).

    kombu takes the SQS endpoint from the broker URL, which the settings derive from
    AWS_ENDPOINT_URL; the predefined queue URL is TASK_QUEUE_URL: both point at the proxy.
    """
    env = {
        **stack.env,
        **(env or {}),
        "PYTHONPATH": str(REPO_ROOT),
        STAMPS_FILE_VAR: str(stamps_file),
    }
    if endpoint_url is not None:
        env["AWS_ENDPOINT_URL"] = endpoint_url
        env["TASK_QUEUE_URL"] = stack.queue_url.replace(stack.env["AWS_ENDPOINT_URL"], endpoint_url)
    heartbeat = Path(env["WORKER_HEARTBEAT_FILE"])
    heartbeat.unlink(missing_ok=True)
    process = start(f"worker-{config.key}", worker_argv(config.app), env, stack.work_dir)
    stack.processes.append(process)
    if wait_ready:
        wait_until(heartbeat.exists, 60, "the worker's heartbeat", process)
    return process
