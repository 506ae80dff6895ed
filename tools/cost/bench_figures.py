"""The bench's measured request counts (bench/results.json) that the cost reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS_FILE = REPO_ROOT / "bench" / "results.json"

IDLE_KEY = "idle_requests_per_hour"
PER_TASK_KEY = "requests_per_short_task"
SPLIT_KEY = "endpoint_requests_per_task"
"""Under "details": the worker's requests per short task by "service:Action"."""
WEB_SPLIT_KEY = "web_requests_per_task"
"""Under "details", when a bench writes it: the web's requests per task, split alike."""


@dataclass(frozen=True)
class BenchFigures:
    """What the last `make bench` measured, or why a figure is missing."""

    source: str
    started_at: str | None
    idle_requests_per_hour: float | None
    """A worker's SQS requests an idle hour (its long polls)."""
    requests_per_task: float | None
    worker_split: dict[str, float]
    web_split: dict[str, float]
    missing: list[str]


def _shown(path: Path) -> str:
    """`path` as the report prints it: relative to the repository when inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


def load(path: Path = RESULTS_FILE) -> BenchFigures:
    """The bench's figures in `path`; a missing file or key is listed, never an error."""
    if not path.exists():
        return BenchFigures(_shown(path), None, None, None, {}, {}, [f"{path} (no bench run)"])
    results = json.loads(path.read_text())
    details = results.get("details", {})
    missing = [key for key in (IDLE_KEY, PER_TASK_KEY) if key not in results]
    missing += [f"details.{key}" for key in (SPLIT_KEY, WEB_SPLIT_KEY) if key not in details]
    return BenchFigures(
        source=_shown(path),
        started_at=results.get("run", {}).get("started_at"),
        idle_requests_per_hour=results.get(IDLE_KEY),
        requests_per_task=results.get(PER_TASK_KEY),
        worker_split=dict(details.get(SPLIT_KEY, {})),
        web_split=dict(details.get(WEB_SPLIT_KEY, {})),
        missing=missing,
    )
