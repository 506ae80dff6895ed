"""Container health check: exit 0 when /healthz answers 200 on the local port."""

from __future__ import annotations

import sys
import urllib.request

from taskqueue.settings import get_settings


def main() -> None:
    """Probe http://127.0.0.1:<port>/healthz with a short timeout."""
    port = get_settings().web_bind.rsplit(":", 1)[1]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:
            healthy = answer.status == 200
    except OSError as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0 if healthy else 1)
