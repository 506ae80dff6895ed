"""One part of the bench run alone (`python -m bench.metrics_cost`, `bench.isolation`): on a
stack of its own, its section merged into `results.json` and `results.md`."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from bench import report
from bench.plan import FULL, QUICK, Plan
from bench.stackops import say
from harness.processes import exit_on_signals
from harness.stack import LocalStack

BENCH_DIR = Path(__file__).resolve().parent

Measure = Callable[[LocalStack, Plan, Path], dict[str, Any]]


class Main(Protocol):
    """A part's `main`: its arguments, or the command line's."""

    def __call__(self, argv: list[str] | None = None) -> None: ...


def part_main(
    module: str,
    key: str,
    measure: Measure,
    markdown: Callable[[dict[str, Any]], str],
    description: str | None,
) -> Main:
    """The `main` of `python -m <module>`: the part alone, its figures under `key`."""

    def main(argv: list[str] | None = None) -> None:
        run_part(
            argv,
            module=module,
            key=key,
            measure=measure,
            markdown=markdown,
            description=description,
        )

    return main


def run_part(
    argv: list[str] | None,
    *,
    module: str,
    key: str,
    measure: Measure,
    markdown: Callable[[dict[str, Any]], str],
    description: str | None,
) -> None:
    """Parse --quick/--out, run `measure` on a fresh stack (moto and the web), and merge its
    figures under `key` into the results (or start them)."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
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
    md_path.write_text(report.markdown(results) if "run" in results else markdown(figures))
    print(markdown(figures), end="")
    say(f"wrote {key} into {json_path} and {md_path}")
