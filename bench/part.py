"""One part of the bench run alone (`python -m bench.<part>`), its section merged into the
results of the last full run (or written alone when there is none)."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report
from bench.plan import FULL, QUICK, Plan
from bench.stackops import say
from harness.processes import exit_on_signals
from harness.stack import LocalStack

BENCH_DIR = Path(__file__).resolve().parent

Measure = Callable[[LocalStack, Plan, Path], dict[str, Any]]


def run_alone(
    argv: list[str] | None,
    doc: str | None,
    key: str,
    measure: Measure,
    section: Callable[[dict[str, Any]], str],
) -> None:
    """Parse the flags, run `measure` on a stack of its own (moto and the web), put its
    figures under `key` in results.json and its `section` into results.md."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{key}", description=doc)
    parser.add_argument("--quick", action="store_true", help="a short run (CI smoke test)")
    parser.add_argument("--out", type=Path, help="directory of results.json and results.md")
    args = parser.parse_args(argv)
    exit_on_signals()
    plan = QUICK if args.quick else FULL
    out_dir = args.out or (BENCH_DIR / "tmp" / "quick" if plan.quick else BENCH_DIR)
    work_dir = BENCH_DIR / "tmp" / (f"{key}-quick" if plan.quick else key)
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    stack = LocalStack(work_dir=work_dir)
    stack.env["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"
    try:
        stack.start_aws()
        stack.start_web()
        figures = measure(stack, plan, work_dir)
    finally:
        stack.stop()
    json_path = out_dir / "results.json"
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    results[key] = figures
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path = out_dir / "results.md"
    # Beside the main bench's table if there is one, else this section alone.
    md_path.write_text(report.markdown(results) if "run" in results else section(figures))
    print(section(figures), end="")
    say(f"wrote {key} into {json_path} and {md_path}")
