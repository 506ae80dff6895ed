"""The bench's latency model: a round trip per AWS service and action, drawn from a log-normal
distribution whose parameters (and their sources) are `latency_model.toml`'s.

The proxy (bench.proxy) holds each response back by `LatencyModel.delay`. The round trip stands
for the whole client-side time of a call on AWS, the service's work included, so moto's own time
counts toward it: a response leaves after the drawn round trip, or when moto answered if that
took longer. A ReceiveMessage may have waited for a message (a long poll), and its wait cannot
be told from moto's work: its answer is held back by the whole round trip, so a waiting poll
returns when a message arrives plus the modelled delay.
"""

from __future__ import annotations

import math
import random
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_FILE = Path(__file__).resolve().parent / "latency_model.toml"
# The standard normal's 99th percentile: p99 = median * exp(Z_99 * sigma).
Z_99 = 2.3263478740408408
DEFAULT = "default"
# The action whose time on the server includes a wait for a message.
LONG_POLL = ("sqs", "ReceiveMessage")


@dataclass(frozen=True)
class RoundTrip:
    """A log-normal round trip, in seconds, given by its median and 99th percentile (ms)."""

    median_ms: float
    p99_ms: float
    source: str

    @property
    def sigma(self) -> float:
        """The spread of the round trip's logarithm."""
        return math.log(self.p99_ms / self.median_ms) / Z_99

    def draw(self, rng: random.Random) -> float:
        """One round trip, in seconds."""
        return rng.lognormvariate(math.log(self.median_ms / 1000), self.sigma)


class LatencyModel:
    """Round trips per (service, action): an action's own row, else its service's, else the
    default row."""

    def __init__(self, rows: dict[tuple[str, str], RoundTrip], seed: int) -> None:
        if (DEFAULT, "") not in rows:
            raise ValueError(f"the latency model needs a [{DEFAULT}] row")
        for key, row in rows.items():
            if not 0 < row.median_ms <= row.p99_ms:
                raise ValueError(f"{key}: need 0 < median_ms <= p99_ms, got {row}")
        self.rows = rows
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # one generator, drawn from every proxy thread

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> LatencyModel:
        """The model of `path` (by default the bench's, `latency_model.toml`)."""
        data = tomllib.loads(path.read_text())
        rows: dict[tuple[str, str], RoundTrip] = {}
        for service, table in data.items():
            if not isinstance(table, dict):
                continue
            rows[service, ""] = _row(table)
            for action, nested in table.items():
                if isinstance(nested, dict):
                    rows[service, action] = _row(nested)
        return cls(rows, seed=int(data.get("seed", 0)))

    def row(self, service: str, action: str) -> RoundTrip:
        """The distribution of (service, action)'s round trip."""
        for key in ((service, action), (service, ""), (DEFAULT, "")):
            if key in self.rows:
                return self.rows[key]
        raise AssertionError("unreachable: __init__ requires the default row")

    def round_trip(self, service: str, action: str) -> float:
        """One round trip of (service, action), in seconds."""
        row = self.row(service, action)
        with self._lock:
            return row.draw(self._rng)

    def delay(self, service: str, action: str, upstream_s: float) -> float:
        """Seconds to hold back a response the endpoint gave after `upstream_s`: the drawn
        round trip less the endpoint's time, or (a long poll) the whole round trip."""
        drawn = self.round_trip(service, action)
        if (service, action) == LONG_POLL:
            return drawn
        return max(0.0, drawn - upstream_s)

    def describe(self) -> dict[str, Any]:
        """The parameters, for results.json: "service" or "service:action" -> its row."""
        return {
            "seed": self.seed,
            "round_trips_ms": {
                (f"{service}:{action}" if action else service): {
                    "median": row.median_ms,
                    "p99": row.p99_ms,
                    "source": row.source,
                }
                for (service, action), row in self.rows.items()
            },
        }


def _row(table: dict[str, Any]) -> RoundTrip:
    return RoundTrip(
        median_ms=float(table["median_ms"]),
        p99_ms=float(table["p99_ms"]),
        source=str(table.get("source", "")),
    )
