"""Drain throughput: one worker runs N queued noop tasks; its CPU time per task."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.resources import cpu_seconds
from bench.stamps import read_stamps
from bench.workers import WorkerConfig, start_worker
from harness.processes import Process
from harness.stack import LocalStack

# Fine polling until the first start (it opens the CPU window), coarse after: the end time
# comes from the stamps, and a coarse poll leaves the CPU to the worker.
FIRST_POLL_S = 0.005
POLL_S = 0.1


@dataclass(frozen=True)
class WorkerDrain:
    """Tasks run, wall time from the first start to the last end, and the worker's CPU."""

    tasks: int
    elapsed_s: float
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.tasks / self.elapsed_s

    @property
    def cpu_ms_per_task(self) -> float:
        return self.cpu_s * 1000 / self.tasks


def worker_drain(
    stack: LocalStack,
    config: WorkerConfig,
    total: int,
    stamps_file: Path,
    deadline_s: float,
    env: Mapping[str, str] | None = None,
    endpoint_url: str | None = None,
) -> tuple[WorkerDrain, Process]:
    """Start a worker on a queue holding `total` noop tasks; time it until all have run
    (`endpoint_url`: its AWS endpoint, a proxy, if not the stack's).

    The CPU window opens at the first task start (start-up imports are not the drain's cost)
    and closes when the last task has ended. The worker is left running for memory figures.
    """
    stamps_file.unlink(missing_ok=True)
    worker = start_worker(
        stack, config, stamps_file, endpoint_url=endpoint_url, wait_ready=False, env=env
    )
    deadline = time.monotonic() + deadline_s
    while not read_stamps(stamps_file).starts:
        _check(worker, deadline, "the first task to start")
        time.sleep(FIRST_POLL_S)
    cpu_start = cpu_seconds(worker.pid)
    while len((stamps := read_stamps(stamps_file)).ends) < total:
        _check(worker, deadline, f"{total} tasks to end ({len(stamps.ends)} so far)")
        time.sleep(POLL_S)
    cpu_end = cpu_seconds(worker.pid)
    elapsed = max(stamps.ends.values()) - min(stamps.starts.values())
    return WorkerDrain(tasks=total, elapsed_s=elapsed, cpu_s=cpu_end - cpu_start), worker


def _check(worker: Process, deadline: float, what: str) -> None:
    if worker.popen.poll() is not None:
        raise RuntimeError(f"the worker exited while waiting for {what}:\n{worker.log()[-4000:]}")
    if time.monotonic() > deadline:
        raise RuntimeError(f"timed out waiting for {what}")
