"""What the per-task metrics cost the worker: CPU per task with TASK_METRICS off and on.

`python -m bench.metrics_cost [--quick]` runs only this part on a stack of its own and puts
its section into `results.json`/`results.md` (bench/, or bench/tmp/quick/ with --quick);
the full `make bench` runs it too. Two figures:

- **End to end**: the same drain as the main bench (N noop tasks queued through the web, one
  worker started on them, its CPU from the first start to the last end), with the metrics
  off, then on, then on and off again...: the order alternates each round so a drift of
  the machine's load hits both alike, and each side reports its median.
- **In the worker**: the CPU time the pool processes spend in each record's `emit` (built,
  formatted, written to the log), over one more drain (bench.metrics_worker). The
  end-to-end difference is within the drain's noise on a shared machine; this one is not.
- **In a tight loop**: the receivers (`task_prerun` + `task_postrun`) run many times in this
  process, writing to /dev/null: the floor, with hot caches.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import time
from collections.abc import Collection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from taskqueue.runtime.logs import json_formatter
from taskqueue.runtime.task_metrics import SENT_AT_HEADER
from worker_service.run_metrics import RunMetrics

from bench import report
from bench.drain import worker_drain
from bench.emit_times import EMIT_TIMES_DIR_VAR
from bench.enqueue import web_enqueue
from bench.part import part_main
from bench.plan import Plan
from bench.stackops import empty_queue, require_all, say
from bench.stamps import read_stamps
from bench.workers import METRICS_TIMED, PROJECT
from harness.stack import LocalStack

IN_PROCESS_RUNS = 5000


def count_emf_lines(log: str, task_ids: Collection[str]) -> int:
    """Lines of a worker's log that carry an EMF block for one of `task_ids` (the log file
    is shared by every worker of one configuration, phase after phase)."""
    return sum(
        1
        for line in log.splitlines()
        if line.startswith("{") and '"_aws"' in line and json.loads(line)["task_id"] in task_ids
    )


def drain_cpu_ms(stack: LocalStack, plan: Plan, work_dir: Path, metrics: bool) -> tuple[float, int]:
    """One drain of `plan.metrics_tasks` noop tasks: worker CPU ms per task, EMF lines."""
    n, c, deadline = plan.metrics_tasks, plan.concurrency, plan.deadline_s
    empty_queue(stack)
    require_all(web_enqueue(stack.web_url, n, c, deadline, api_key=stack.api_key), n, "web fill")
    stamps = work_dir / f"metrics-{'on' if metrics else 'off'}-stamps"
    env = {"TASK_METRICS": "true" if metrics else "false"}
    drain, worker = worker_drain(stack, PROJECT, n, stamps, deadline, env=env)
    worker.stop()
    return drain.cpu_ms_per_task, count_emf_lines(worker.log(), read_stamps(stamps).ends)


def in_worker_us(stack: LocalStack, plan: Plan, work_dir: Path) -> float:
    """Microseconds of CPU one metrics record costs a pool process (bench.metrics_worker),
    over one drain: with the caches as a real task leaves them, not a tight loop's."""
    n, c, deadline = plan.metrics_tasks, plan.concurrency, plan.deadline_s
    empty_queue(stack)
    require_all(web_enqueue(stack.web_url, n, c, deadline, api_key=stack.api_key), n, "web fill")
    times_dir = work_dir / "emit-times"
    shutil.rmtree(times_dir, ignore_errors=True)
    times_dir.mkdir()
    stamps = work_dir / "metrics-timed-stamps"
    env = {"TASK_METRICS": "true", EMIT_TIMES_DIR_VAR: str(times_dir)}
    _, worker = worker_drain(stack, METRICS_TIMED, n, stamps, deadline, env=env)
    worker.stop()
    totals = [path.read_text().split() for path in times_dir.iterdir()]
    records = sum(int(count) for count, _ in totals)
    return sum(float(seconds) for _, seconds in totals) * 1e6 / records


def in_process_us() -> float:
    """Microseconds of CPU the metrics receivers spend on one run (prerun + postrun)."""
    hooks = RunMetrics("TaskQueue/bench")
    logger = logging.getLogger("taskqueue.runtime.task_metrics")
    with open(os.devnull, "w") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(json_formatter())
        logger.addHandler(handler)
        propagate, logger.propagate = logger.propagate, False
        try:
            task = SimpleNamespace(
                name="noop", request=SimpleNamespace(eta=None, **{SENT_AT_HEADER: time.time()})
            )
            started = time.process_time()
            for number in range(IN_PROCESS_RUNS):
                task_id = f"task-{number}"
                hooks.on_prerun(task_id=task_id, task=task)
                hooks.on_postrun(task_id=task_id, task=task, state="SUCCESS")
            spent = time.process_time() - started
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate
    return spent * 1e6 / IN_PROCESS_RUNS


def measure_metrics_cost(stack: LocalStack, plan: Plan, work_dir: Path) -> dict[str, Any]:
    """Both figures on a running stack (moto and the web started)."""
    load_start = os.getloadavg()[0]
    off: list[float] = []
    on: list[float] = []
    lines = {"off": 0, "on": 0}
    for round_number in range(plan.metrics_rounds):
        order = (False, True) if round_number % 2 == 0 else (True, False)
        for metrics in order:
            side = "on" if metrics else "off"
            say(f"task metrics {side}: drain {plan.metrics_tasks} tasks ({round_number + 1})")
            cpu_ms, emf_lines = drain_cpu_ms(stack, plan, work_dir, metrics)
            (on if metrics else off).append(cpu_ms)
            lines[side] += emf_lines
    cpu_off, cpu_on = statistics.median(off), statistics.median(on)
    say(f"task metrics timed in the worker: drain {plan.metrics_tasks} tasks")
    record_us = in_worker_us(stack, plan, work_dir)
    receivers_us = in_process_us()
    return {
        "worker_cpu_ms_per_task_off": cpu_off,
        "worker_cpu_ms_per_task_on": cpu_on,
        "overhead_percent": (cpu_on - cpu_off) * 100 / cpu_off,
        "record_us_in_worker": record_us,
        "record_percent": record_us / 10 / cpu_off,  # µs / (ms * 1000) * 100
        "receivers_us_per_task": receivers_us,
        "receivers_percent": receivers_us / 10 / cpu_off,
        "details": {
            "tasks_per_drain": plan.metrics_tasks,
            "rounds": plan.metrics_rounds,
            "cpu_ms_per_task_off_each": off,
            "cpu_ms_per_task_on_each": on,
            "emf_lines_off": lines["off"],
            "emf_lines_on": lines["on"],
            "in_process_runs": IN_PROCESS_RUNS,
            "load_avg_1m": {"start": load_start, "end": os.getloadavg()[0]},
        },
    }


# Run alone: on a stack of its own, its section merged into the results (or starting them).
main = part_main(
    "bench.metrics_cost",
    "metrics_cost",
    measure_metrics_cost,
    report.metrics_cost_markdown,
    __doc__,
)


if __name__ == "__main__":
    main()
