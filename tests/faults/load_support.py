"""Load test helpers: closed-loop HTTP clients on threads, and the RSS of a process tree."""

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

from harness.processes import Process

MB = 1024 * 1024
DONE = {"SUCCESS", "FAILURE", "REVOKED"}


@dataclass
class LoadResult:
    """What the clients sent and saw, summed over every client."""

    seconds: float = 0.0
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    sent: int = 0
    accepted: list[str] = field(default_factory=list)
    accepted_by_task: Counter[str] = field(default_factory=Counter)
    queue_latencies: list[float] = field(default_factory=list)
    completed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, requests_sent: int, error: str | None = None) -> None:
        with self.lock:
            self.requests += requests_sent
            if error is not None:
                self.errors.append(error)

    def summary(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        latencies = sorted(self.queue_latencies) or [0.0]
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        return (
            f"{self.requests} requests in {self.seconds:.1f}s ({rate:.0f}/s), "
            f"{len(self.errors)} errors, {len(self.accepted)} tasks accepted "
            f"({dict(self.accepted_by_task)}), {self.completed} completed; POST /tasks "
            f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms"
        )


@dataclass(frozen=True)
class LoadPlan:
    """How many clients, for how long, at most how many tasks, and which task the n-th is."""

    clients: int
    seconds: float
    max_tasks: int
    task_for: Callable[[int], dict[str, Any]]
    poll_interval: float = 0.2
    task_timeout: float = 20.0


def run_load(base_url: str, plan: LoadPlan) -> LoadResult:
    """`plan.clients` threads, each queueing one task and polling it to the end, in a loop."""
    result = LoadResult()
    deadline = time.monotonic() + plan.seconds
    started = time.monotonic()
    threads = [
        threading.Thread(target=_client, args=(base_url, plan, deadline, result), daemon=True)
        for _ in range(plan.clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(plan.seconds + plan.task_timeout + 30)
    result.seconds = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), "a load client hung"
    return result


def _client(base_url: str, plan: LoadPlan, deadline: float, result: LoadResult) -> None:
    with requests.Session() as session:
        while time.monotonic() < deadline:
            with result.lock:
                if result.sent >= plan.max_tasks:
                    return
                result.sent += 1
                n = result.sent
            try:
                task_id = _queue(session, base_url, plan.task_for(n), result)
                _follow(session, base_url, task_id, plan, result)
            except _Counted:
                continue
            except Exception as error:  # every failure is counted, none stops the others
                result.add(0, f"{type(error).__name__}: {error}")


def _queue(
    session: requests.Session, base_url: str, body: dict[str, Any], result: LoadResult
) -> str:
    started = time.monotonic()
    response = session.post(f"{base_url}/tasks", json=body, timeout=10)
    latency = time.monotonic() - started
    if response.status_code != 202:
        result.add(1, f"POST /tasks {body}: {response.status_code} {response.text[:200]}")
        raise _Counted()
    task_id: str = response.json()["id"]
    with result.lock:
        result.requests += 1
        result.accepted.append(task_id)
        result.accepted_by_task[body["task"]] += 1
        result.queue_latencies.append(latency)
    return task_id


def _follow(
    session: requests.Session, base_url: str, task_id: str, plan: LoadPlan, result: LoadResult
) -> None:
    give_up = time.monotonic() + plan.task_timeout
    while time.monotonic() < give_up:
        response = session.get(f"{base_url}/tasks/{task_id}", timeout=10)
        if response.status_code != 200:
            result.add(1, f"GET /tasks/{task_id}: {response.status_code} {response.text[:200]}")
            return
        result.add(1)
        task_state = response.json()["state"]
        if task_state in DONE:
            if task_state != "SUCCESS":
                result.add(0, f"task {task_id} ended {task_state}: {response.text[:200]}")
                return
            with result.lock:
                result.completed += 1
            return
        time.sleep(plan.poll_interval)
    result.add(0, f"task {task_id} not done after {plan.task_timeout}s")


class _Counted(Exception):
    """A failure already recorded as an error."""


def tree_rss(process: Process) -> dict[str, int]:
    """RSS in bytes of `process` and each of its descendants, by `name[pid]`."""
    root = psutil.Process(process.pid)
    members = [root, *root.children(recursive=True)]
    rss: dict[str, int] = {}
    for member in members:
        try:
            label = process.name if member.pid == root.pid else f"{process.name} child"
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
