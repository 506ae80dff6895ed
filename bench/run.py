"""`python -m bench.run [--quick]`: start a local stack, measure both configurations, report.

Writes `results.json` and `results.md` (bench/ for the full run, bench/tmp/quick/ for
--quick, or --out) and prints the table. Process logs stay in the work directory.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import report
from bench.isolation import measure_isolation
from bench.latency import LatencyModel
from bench.measure import measure_config
from bench.metrics_cost import measure_metrics_cost
from bench.network import modelled
from bench.plan import FULL, QUICK, Plan
from bench.pools import measure_pools
from bench.rate_limit import measure_rate_limit
from bench.stackops import say
from bench.workers import PROJECT, SEED
from harness.processes import exit_on_signals
from harness.stack import LocalStack

BENCH_DIR = Path(__file__).resolve().parent
BENCH_MAX_WAITING = 1_000_000


def run(plan: Plan, work_dir: Path) -> dict[str, Any]:
    """Both configurations on one local stack (moto server and web, shared), on loopback and
    under the latency model, then stopped."""
    started, wall, load_before = datetime.now(UTC), time.monotonic(), os.getloadavg()[0]
    stack = LocalStack(work_dir=work_dir)
    # Each phase starts from a purged queue; moto allows one purge a minute unless told.
    stack.env["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"
    # A purged task never starts, so it keeps its slot of the client's cap (taskqueue.stores.
    # waiting): the phases purge over 1000 of them, the default cap. A cap no run reaches
    # keeps the cap's requests in the figures and refuses nothing.
    stack.env["CLIENT_MAX_WAITING"] = str(BENCH_MAX_WAITING)
    model = LatencyModel.load()
    try:
        say(f"local stack in {work_dir}")
        stack.start_aws()
        stack.start_web()
        with modelled(stack) as network:
            ours = measure_config(stack, PROJECT, plan, work_dir, network, model)
            baseline = measure_config(stack, SEED, plan, work_dir, network, model)
            pools = measure_pools(stack, plan, work_dir, network)
        metrics_cost = measure_metrics_cost(stack, plan, work_dir)
        isolation = measure_isolation(stack, plan, work_dir)
        rate_limit = measure_rate_limit(stack, plan, work_dir)
    finally:
        stack.stop()
    return {
        **ours,
        "baseline": baseline,
        "latency_model": model.describe(),
        "metrics_cost": metrics_cost,
        "isolation": isolation,
        "rate_limit": rate_limit,
        "pools": pools,
        "run": {
            "quick": plan.quick,
            "started_at": started.strftime("%Y-%m-%d %H:%M UTC"),
            "duration_s": round(time.monotonic() - wall, 1),
            "cpus": os.cpu_count(),
            # Other work on the machine skews every figure: the 1-minute load average.
            "load_avg_1m": {"start": load_before, "end": os.getloadavg()[0]},
            "python": platform.python_version(),
            "versions": {name: version(name) for name in ("celery", "kombu", "moto", "boto3")},
        },
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the flags, run, write and print the results."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (CI smoke test)")
    parser.add_argument("--out", type=Path, help="directory for results.json and results.md")
    parser.add_argument("--work-dir", type=Path, help="directory for process logs")
    args = parser.parse_args(argv)
    # SIGTERM and SIGHUP unwind like Ctrl-C, so the stack's processes are stopped by PID on
    # the way out (and once only: `uv run` forwards every signal a second time).
    exit_on_signals()
    plan = QUICK if args.quick else FULL
    out_dir = args.out or (BENCH_DIR / "tmp" / "quick" if plan.quick else BENCH_DIR)
    work_dir = args.work_dir or BENCH_DIR / "tmp" / ("last-run-quick" if plan.quick else "last-run")
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    results = run(plan, work_dir)
    json_path, md_path = report.write(results, out_dir)
    print(md_path.read_text(), end="")
    say(f"wrote {json_path} and {md_path} in {results['run']['duration_s']:.0f} s")


if __name__ == "__main__":
    main()
