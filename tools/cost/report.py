"""The printed estimate: the idle lines, their total, and a million tasks' requests."""

from __future__ import annotations

from tools.cost.idle import Estimate
from tools.cost.per_task import PerMillion

WIDTH = 34


def _row(item: str, detail: str, usd: str) -> str:
    return f"{item:<{WIDTH}} {detail:<70} {usd:>9}"


def render(estimate: Estimate, million: PerMillion | None) -> str:
    """The estimate as text: one row per line, the total, then the per-task part."""
    book, bench = estimate.book, estimate.bench
    out = [
        f"{estimate.template.name}: monthly cost at idle, {book.region} list prices of "
        f"{book.checked} ({book.hours_per_month:g} h a month; free tier not counted)",
        "",
        _row("Item", "How it is counted", "$/month"),
    ]
    out += [_row(line.item, line.detail, f"{line.usd:,.2f}") for line in estimate.lines]
    out += [_row("Idle total", "", f"{estimate.total:,.2f}"), ""]
    run = f", run of {bench.started_at}" if bench.started_at else ""
    if million is None:
        out.append(
            f"Per million short tasks: not computed ({bench.source}{run} has no split of "
            "the requests per task by action)"
        )
    else:
        out.append(f"Per million short tasks, from {bench.source}{run}:")
        out += [_row("", part, f"{usd:,.2f}") for part, usd in million.parts.items()]
        out.append(_row("", "total", f"{million.total:,.2f}"))
        if million.unpriced:
            out.append(f"  not priced: {', '.join(million.unpriced)}")
    if bench.missing:
        out.append(f"  not in the bench's results, so not priced: {', '.join(bench.missing)}")
    out += [
        "",
        "Not counted: data transfer out, the images in the CDK's ECR repository, KMS and "
        "CloudWatch API requests, traffic (LCUs, NAT and endpoint GBs, WAF requests).",
        f"Prices not read on an AWS page (prices.json says where seen): "
        f"{', '.join(book.unconfirmed)}.",
    ]
    return "\n".join(out)
