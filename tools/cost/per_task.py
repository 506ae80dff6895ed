"""What one task's AWS requests cost: each measured request ("service:Action") at its price."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tools.cost.bench_figures import BenchFigures
from tools.cost.prices import PriceBook
from tools.cost.template import Template

WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
READS = {"GetItem", "Query"}
MILLION = 1_000_000


def index_count(template: Template) -> int:
    """The global secondary indexes of the template's tables (each write may write them)."""
    return sum(
        len(table.get("GlobalSecondaryIndexes", []))
        for table in template.of_type("AWS::DynamoDB::Table").values()
    )


def request_usd(action: str, book: PriceBook, indexes: int) -> float | None:
    """Dollars for one request `service:Action` (a label after the action, as in
    "dynamodb:UpdateItem (progress)", is ignored); None for one this tool has no price for."""
    service, _, name = action.partition(":")
    name = name.split(" ")[0]
    if service == "sqs":
        return book.usd("sqs_million_requests") / MILLION
    units = book.assumed("item_kb")
    if service == "dynamodb" and name in WRITES:
        per_write = 1 + book.assumed("index_writes_per_write") * indexes
        return units * per_write * book.usd("dynamodb_million_wru") / MILLION
    if service == "dynamodb" and name in READS:
        return units * book.usd("dynamodb_million_rru") / MILLION
    return None


@dataclass(frozen=True)
class PerMillion:
    """The cost of a million short tasks, by part, and what could not be priced."""

    parts: dict[str, float]
    unpriced: list[str]

    @property
    def total(self) -> float:
        """All priced parts."""
        return sum(self.parts.values())


def _priced(
    split: Mapping[str, float], book: PriceBook, indexes: int, unpriced: list[str]
) -> dict[str, float]:
    parts: dict[str, float] = {}
    for action, count in split.items():
        usd = request_usd(action, book, indexes)
        if usd is None:
            unpriced.append(action)
            continue
        parts[action] = count * usd * MILLION
    return parts


def per_million(figures: BenchFigures, book: PriceBook, t: Template) -> PerMillion | None:
    """A million short tasks' requests (the worker's, and the web's when measured), their
    metrics' log lines and, behind a web ACL, its inspection of their POSTs; None when the
    bench split no request by action."""
    if not figures.worker_split:
        return None
    indexes = index_count(t)
    unpriced: list[str] = []
    parts = _priced(figures.worker_split, book, indexes, unpriced)
    parts |= {f"web {k}": v for k, v in _priced(figures.web_split, book, indexes, unpriced).items()}
    emf_gb = book.assumed("emf_bytes_per_task") * MILLION / 1e9
    parts["task metrics' log lines"] = emf_gb * book.usd("logs_ingest_gb")
    if t.of_type("AWS::WAFv2::WebACL"):
        parts["WAF: each POST /tasks inspected"] = book.usd("waf_million_requests")
    return PerMillion(parts, unpriced)
