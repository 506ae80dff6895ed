"""Container health check: exit 0 while the worker's heartbeat file is fresh."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from taskqueue.settings import Settings, get_settings

# Missing this many heartbeats in a row makes the worker unhealthy.
MISSED_BEATS = 3


def heartbeat_age(settings: Settings) -> float | None:
    """Seconds since the last heartbeat, or None when there is none."""
    path = Path(settings.worker_heartbeat_file)
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None


def main() -> None:
    """Exit non-zero when the heartbeat is missing or stale."""
    settings = get_settings()
    age = heartbeat_age(settings)
    limit = MISSED_BEATS * settings.worker_heartbeat_interval
    if age is None:
        print(f"unhealthy: no heartbeat at {settings.worker_heartbeat_file}", file=sys.stderr)
        sys.exit(1)
    if age > limit:
        print(f"unhealthy: last heartbeat {age:.0f}s ago (limit {limit:.0f}s)", file=sys.stderr)
        sys.exit(1)
    print(f"healthy: last heartbeat {age:.1f}s ago")
