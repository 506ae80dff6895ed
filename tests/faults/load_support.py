"""Load test helpers: closed-loop HTTP clients on `bench.load`'s threads, and process RSS."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
import requests
from taskqueue_cli.api import TaskApi, UnexpectedAnswer

from bench.load import LoadResult, run_load
from bench.resources import MB, process_tree
from harness.processes import Process

DONE = {"SUCCESS", "FAILURE", "REVOKED"}


@dataclass(frozen=True)
class LoadPlan:
    """How many clients, for how long, at most how many tasks, and which task the n-th is."""

    clients: int
    seconds: float
    max_tasks: int
    task_for: Callable[[int], dict[str, Any]]
    poll_interval: float = 0.2
    task_timeout: float = 20.0


@dataclass
class TaskLoad:
    """What the clients sent and saw, summed over every client; `load` once they stopped."""

    plan: LoadPlan
    requests: int = 0
    accepted: list[str] = field(default_factory=list)
    accepted_by_task: Counter[str] = field(default_factory=Counter)
    queue_latencies: list[float] = field(default_factory=list)
    completed: int = 0
    load: LoadResult | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def errors(self) -> list[str]:
        """Every failure: a refused request, a task that failed or never ended, an exception."""
        return self.load.errors if self.load else []

    def call(self, api: TaskApi, index: int) -> None:
        """One client turn: queue the task (the n-th, counting from 1), follow it to the end."""
        body = self.plan.task_for(index + 1)
        task_id = self._queue(api, body)
        self._follow(api, task_id)

    def _queue(self, api: TaskApi, body: dict[str, Any]) -> str:
        started = time.monotonic()
        response = api.post_task(body["task"], body.get("params"))
        latency = time.monotonic() - started
        self._count()
        if response.status_code != 202:
            raise UnexpectedAnswer(f"POST /tasks {body}", response)
        task_id: str = response.json()["id"]
        with self.lock:
            self.accepted.append(task_id)
            self.accepted_by_task[body["task"]] += 1
            self.queue_latencies.append(latency)
        return task_id

    def _follow(self, api: TaskApi, task_id: str) -> None:
        give_up = time.monotonic() + self.plan.task_timeout
        while time.monotonic() < give_up:
            response = api.get_task(task_id)
            self._count()
            if response.status_code != 200:
                raise UnexpectedAnswer(f"GET /tasks/{task_id}", response)
            task_state = response.json()["state"]
            if task_state in DONE:
                if task_state != "SUCCESS":
                    raise RuntimeError(f"task {task_id} ended {task_state}: {response.text[:200]}")
                with self.lock:
                    self.completed += 1
                return
            time.sleep(self.plan.poll_interval)
        raise RuntimeError(f"task {task_id} not done after {self.plan.task_timeout}s")

    def _count(self) -> None:
        with self.lock:
            self.requests += 1

    def summary(self) -> str:
        """Requests, errors, tasks and the POST latencies, on one line."""
        seconds = self.load.elapsed_s if self.load else 0.0
        rate = self.requests / seconds if seconds else 0.0
        latencies = sorted(self.queue_latencies) or [0.0]
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        return (
            f"{self.requests} requests in {seconds:.1f}s ({rate:.0f}/s), "
            f"{len(self.errors)} errors, {len(self.accepted)} tasks accepted "
            f"({dict(self.accepted_by_task)}), {self.completed} completed; POST /tasks "
            f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms"
        )


def closed_loop(base_url: str, plan: LoadPlan, *, api_key: str) -> TaskLoad:
    """`plan.clients` threads, each queueing one task and polling it to the end, in a loop."""
    tally = TaskLoad(plan)
    sessions: list[requests.Session] = []

    def connect() -> TaskApi:
        sessions.append(session := requests.Session())
        return TaskApi(base_url, session=session, api_key=api_key)

    try:
        tally.load = run_load(
            plan.max_tasks,
            plan.clients,
            connect,
            tally.call,
            plan.seconds,
            # A turn in flight at the deadline may still poll its task for `task_timeout`.
            grace_s=plan.task_timeout + 30,
        )
    finally:
        for session in sessions:
            session.close()
    assert tally.load.hung == 0, "a load client hung"
    return tally


def tree_rss(process: Process) -> dict[str, int]:
    """RSS in bytes of `process` and each of its descendants, by `name[pid]`."""
    rss: dict[str, int] = {}
    for member in process_tree(process.pid):
        try:
            label = process.name if member.pid == process.pid else f"{process.name} child"
            rss[f"{label}[{member.pid}]"] = member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return rss


class RssSampler:
    """Samples `tree_rss` of some processes every `interval` seconds on a thread."""

    def __init__(self, processes: list[Process], interval: float = 5.0) -> None:
        self.processes, self.interval = processes, interval
        self.samples: list[dict[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict[str, int]:
        """Take one sample now; also kept in `samples`."""
        rss = {name: value for p in self.processes for name, value in tree_rss(p).items()}
        self.samples.append(rss)
        return rss

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def series(self) -> str:
        """One line per process: its RSS in MB at each sample."""
        names = self.samples[0].keys() if self.samples else []
        return "\n".join(
            f"  {name}: " + " ".join(f"{s.get(name, 0) / MB:.1f}" for s in self.samples)
            for name in names
        )
