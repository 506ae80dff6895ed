"""python -m tools.cost <cdk.out or template> [--bench results.json]: print the estimate;
exit 2, naming them, when the template holds a resource type neither priced nor free."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.cost import bench_figures, idle, per_task, prices, report, template


def main(argv: list[str] | None = None) -> int:
    """Read the template, price it, print it."""
    parser = argparse.ArgumentParser(prog="python -m tools.cost", description=__doc__)
    parser.add_argument("template", type=Path, help="a cdk.out directory or a template file")
    parser.add_argument("--bench", type=Path, default=bench_figures.RESULTS_FILE)
    parser.add_argument("--prices", type=Path, default=prices.PRICES_FILE)
    args = parser.parse_args(argv)
    book = prices.load(args.prices)
    stack = template.read(args.template)
    missing = idle.unpriced(stack, book)
    if missing:
        print(
            f"{stack.name}: no price for {', '.join(missing)}: price it in tools/cost/idle.py "
            "or list it as free in tools/cost/prices.json",
            file=sys.stderr,
        )
        return 2
    figures = bench_figures.load(args.bench)
    try:
        estimate = idle.estimate(stack, book, figures)
    except template.TemplateError as error:
        print(f"{stack.name}: {error}", file=sys.stderr)
        return 2
    million = per_task.per_million(figures, book, stack)
    print(report.render(estimate, million))
    return 0


if __name__ == "__main__":
    sys.exit(main())
