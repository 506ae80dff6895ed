"""A task's declared rate: `register(..., rate_limit="10/s", rate_burst=2)`.

The rate holds across every worker process (taskqueue.runtime.rate_gate keeps it in the
results table, taskqueue.stores.rate_limits); this module only reads what was declared, at
import, so a malformed rate stops the process that loads the task with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from taskqueue.settings import SettingsError
from taskqueue.stores.rate_limits import Pace

# Seconds per unit of a rate's text.
UNITS = {"s": 1, "m": 60, "h": 3600}
RATE_TEXT = re.compile(r"(?P<count>[0-9]+)/(?P<unit>[smh])")


@dataclass(frozen=True)
class Rate:
    """At most `count` starts per `per_seconds`, and `burst` at once after a quiet spell."""

    count: int
    per_seconds: int
    burst: int = 1

    @property
    def pace(self) -> Pace:
        """The rate as GCRA counts it: the interval between starts, and the burst's lead."""
        interval = self.per_seconds / self.count
        return Pace(interval=interval, tolerance=(self.burst - 1) * interval)

    def __str__(self) -> str:
        unit = next(name for name, seconds in UNITS.items() if seconds == self.per_seconds)
        return f"{self.count}/{unit}, burst {self.burst}"


def parse_rate(text: str, burst: int = 1) -> Rate:
    """The `Rate` of `rate_limit="<count>/<s|m|h>"` with `rate_burst`; SettingsError with the
    reason for anything else."""
    match = RATE_TEXT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise SettingsError(
            f"rate_limit {text!r} is not a rate: write <count>/<unit>, unit s, m or h"
            ' (for example "10/s" or "100/h")'
        )
    count = int(match["count"])
    if count < 1:
        raise SettingsError(f"rate_limit {text!r} allows nothing: the count must be at least 1")
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise SettingsError(
            f"rate_burst {burst!r} must be a whole number of at least 1"
            " (the starts allowed at once)"
        )
    return Rate(count=count, per_seconds=UNITS[match["unit"]], burst=burst)
