"""The local stack as real processes: moto server, the worker and the web (gunicorn).

Each stack gets free ports and its own environment; every process is stopped by PID.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from taskqueue.settings import DEFAULT_QUEUE, Settings
from taskqueue.stores import api_keys
from taskqueue.stores.queue_depth import read_depth
from taskqueue_cli.api import TaskApi

from harness.processes import Process, free_port, start, wait_until

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The services' one start command each (services/*/src/*/start.py), as the images' CMD and
# the Procfile run them: every test starts the web and the worker the way production does.
WORKER_ARGV = [str(BIN / "taskqueue-worker")]
WEB_ARGV = [str(BIN / "taskqueue-web")]
# The client every stack registers: tests, the bench and the CLI call the web as it.
CLIENT = "harness"


def stack_env(aws_port: int, web_port: int, work_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment every process of one stack shares (the names README lists); the
    queue's URL is the endpoint's answer, added once it runs (`LocalStack.start_aws`)."""
    endpoint = f"http://127.0.0.1:{aws_port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "TASK_", "WORKER_", "WEB_", "RESULT"))
    }
    # Only what differs from the Settings defaults, plus what boto3 reads itself (moto's
    # credentials; the region, for the CLI's lookups of deployed stacks).
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "WEB_BIND": f"127.0.0.1:{web_port}",
            "WORKER_HEARTBEAT_FILE": str(work_dir / "worker-heartbeat"),
            "WORKER_HEARTBEAT_INTERVAL": "1",
            "PYTHONUNBUFFERED": "1",
            # The tests queue the diagnostic tasks (fail, crash, ...); AWS stacks do not offer them.
            "DIAGNOSTIC_TASKS": "true",
        }
    )
    env.update(overrides)
    return env


@dataclass
class LocalStack:
    """One local stack's processes and clients; `api_key` is client `CLIENT`'s key."""

    work_dir: Path
    env: dict[str, str] = field(init=False)
    aws_port: int = field(init=False)
    web_port: int = field(init=False)
    api_key: str = field(init=False, repr=False)
    processes: list[Process] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.aws_port, self.web_port = free_port(), free_port()
        self.env = stack_env(self.aws_port, self.web_port, self.work_dir)
        self.api_key = api_keys.new_key()

    def api(self, **kwargs: Any) -> TaskApi:
        """The web API as client `CLIENT` (`kwargs`: TaskApi's timeout, session)."""
        return TaskApi(self.web_url, api_key=self.api_key, **kwargs)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def queue_url(self) -> str:
        """The task queue's URL, as the endpoint gave it (known once `start_aws` ran)."""
        return self.env["TASK_QUEUE_URL"]

    @property
    def settings(self) -> Settings:
        """The settings the stack's processes read from its environment."""
        return Settings.from_environment(self.env)

    def client(self, service: str, credentials: dict[str, str] | None = None) -> Any:
        """A boto3 client for the local endpoint (`credentials`: AWS_ACCESS_KEY_ID/SECRET)."""
        credentials = credentials or self.env
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        )

    def _start(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None
    ) -> Process:
        process = start(name, argv, {**self.env, **env}, self.work_dir, cwd)
        self.processes.append(process)
        return process

    def start_aws(self) -> Process:
        """moto's server with the queue, the DLQ and the table bootstrapped, and the
        stack's client key registered (again, after a restart: moto keeps nothing)."""
        process = self._start("aws", [sys.executable, "-m", "devstack.local_aws"], {})
        sqs = self.client("sqs")
        wait_until(lambda: bool(self._ask_queue_url(sqs)), 30, "the local AWS endpoint", process)
        api_keys.register(
            self.client("dynamodb"), self.settings.results_table, CLIENT, self.api_key
        )
        return process

    def _ask_queue_url(self, sqs: Any) -> str:
        """The task queue's URL as the endpoint answers it (its own account and form, as any
        emulator or SQS itself), set for the processes started from now on."""
        url: str = sqs.get_queue_url(QueueName=self.settings.task_queue_name)["QueueUrl"]
        self.env["TASK_QUEUE_URL"] = url
        return url

    def start_worker(
        self,
        name: str = "worker",
        args: Sequence[str] = (),
        queue: str = DEFAULT_QUEUE,
        **env: str,
    ) -> Process:
        """`celery worker` consuming `queue`, ready when its heartbeat file appears (`name`:
        its log's name; `args`: more arguments of `celery worker`). A queue other than the
        default has a heartbeat file of its own, so its worker runs beside the default's."""
        if queue != DEFAULT_QUEUE:
            env = {
                "WORKER_QUEUE": queue,
                "WORKER_HEARTBEAT_FILE": f"{self.env['WORKER_HEARTBEAT_FILE']}-{queue}",
                **env,
            }
            name = f"{name}-{queue}" if name == "worker" else name
        heartbeat = Path(env.get("WORKER_HEARTBEAT_FILE", self.env["WORKER_HEARTBEAT_FILE"]))
        heartbeat.unlink(missing_ok=True)
        process = self._start(name, [*WORKER_ARGV, *args], env)
        wait_until(heartbeat.exists, 60, "the worker's heartbeat", process)
        return process

    def start_web(self, cwd: Path | None = None, **env: str) -> Process:
        """gunicorn serving the web app, ready when /healthz answers (`cwd`: its directory; by
        default this process's, the repository's root under pytest, which puts the diagnostic
        tasks on its path)."""
        process = self._start("web", WEB_ARGV, env, cwd)
        wait_until(
            lambda: requests.get(f"{self.web_url}/healthz", timeout=1).ok,
            60,
            "the web's /healthz",
            process,
        )
        return process

    def queue_depth(self, queue: str = DEFAULT_QUEUE) -> int:
        """Messages in the task queue `queue`: visible, in flight or delayed.

        moto computes each count at its own instant, so a message whose delay ends during
        one GetQueueAttributes is counted in none of them: read until two reads agree on
        every count (a delay that ended during either read changes the next one's counts).
        """
        sqs, url = self.client("sqs"), self.settings.queue_address(queue).url
        depth = read_depth(sqs, url)
        while (again := read_depth(sqs, url)) != depth:
            depth = again
        return depth.total

    def stop(self) -> None:
        """Stop every process, newest first."""
        for process in reversed(self.processes):
            process.stop()


@contextmanager
def running(
    work_dir: Path, *, worker: bool = True, web: bool = True, **env: str
) -> Iterator[LocalStack]:
    """A stack with moto, then (unless told not to) a worker and the web started, with `env`
    over the stack's environment; every process stopped on the way out."""
    local = LocalStack(work_dir=work_dir)
    local.env.update(env)
    try:
        local.start_aws()
        if worker:
            local.start_worker()
        if web:
            local.start_web()
        yield local
    finally:
        local.stop()
