"""Queue isolation: a quick task's pickup on the default queue, idle and behind a backlog of
slow reports on the `reports` queue.

`python -m bench.isolation [--quick]` runs only this part on a stack of its own and puts its
section into `results.json`/`results.md` (bench/, or bench/tmp/quick/ with --quick); the full
`make bench` runs it too. One worker of each queue (the default's with the pickup stamps,
`bench.project_worker`; the reports' with one pool process): first the pickup of `noop`
tasks with every queue idle, as the main pickup figure takes it, then the same while the
reports' worker runs a long report and more wait behind it in the reports queue. Each queue
has its own worker, so the second figure should be the first's (README "Add a queue").
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from bench import report
from bench.part import part_main
from bench.pickup import Pickups, measure_pickup, percentile
from bench.plan import Plan
from bench.stackops import empty_queue, say
from bench.workers import PROJECT, start_worker
from harness.processes import wait_until
from harness.stack import LocalStack

BENCH_DIR = Path(__file__).resolve().parent
REPORTS = "reports"
# Reports queued behind the running one: the backlog the quick tasks must not wait for.
BACKLOG = 5


def measure_isolation(stack: LocalStack, plan: Plan, work_dir: Path) -> dict[str, Any]:
    """Pickup on the default queue, idle and with the reports queue's worker busy."""
    tasks, gaps = plan.isolation_tasks, plan.pickup_gap_s[PROJECT.key]
    say(f"isolation: pickup of {tasks} tasks, idle, then behind {BACKLOG} reports")
    empty_queue(stack)
    stamps = work_dir / "isolation-stamps"
    stamps.unlink(missing_ok=True)
    worker = start_worker(stack, PROJECT, stamps)
    reports = stack.start_worker(queue=REPORTS, WORKER_CONCURRENCY="1")
    api = stack.api()

    def pickup() -> Pickups:
        rng = random.Random(5)  # the same gaps in both runs
        return measure_pickup(stack.web_url, stamps, tasks, gaps, rng, api_key=stack.api_key)

    try:
        idle = pickup()
        # Long enough to outlast the second pickup run (its gaps average half the maximum).
        duration = int(tasks * gaps[1]) + 60
        running = api.enqueue("report", {"duration": duration})
        backlog = [api.enqueue("report", {"duration": duration}) for _ in range(BACKLOG)]
        wait_until(lambda: api.state(running) == "PROGRESS", 60, "the first report to run")
        behind = pickup()
        still_waiting = sum(api.state(task) == "PENDING" for task in backlog)
    finally:
        reports.stop(timeout=1)  # its reports would run for minutes: nothing there is measured
        worker.stop()
    return {
        "idle_pickup_p50_s": percentile(idle.latencies, 0.5),
        "backlog_pickup_p50_s": percentile(behind.latencies, 0.5),
        "details": {
            "pickup_tasks": tasks,
            "pickup_gap_s": list(gaps),
            "idle_pickup_p95_s": percentile(idle.latencies, 0.95),
            "backlog_pickup_p95_s": percentile(behind.latencies, 0.95),
            "backlog_pickup_max_s": max(behind.latencies),
            "reports_backlog": BACKLOG,
            "reports_still_waiting_after": still_waiting,
            "report_duration_s": duration,
        },
    }


# Run alone: on a stack of its own, its section merged into the results (or starting them).
main = part_main(
    "bench.isolation",
    "isolation",
    measure_isolation,
    report.isolation_markdown,
    __doc__,
)


if __name__ == "__main__":
    main()
