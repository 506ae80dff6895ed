"""Enqueue throughput: `POST /tasks` through gunicorn from a bounded concurrent load."""

from __future__ import annotations

from typing import Any

import requests

from bench.load import LoadResult, run_load


def web_enqueue(web_url: str, total: int, concurrency: int, deadline_s: float) -> LoadResult:
    """`total` noop tasks queued through the web, `concurrency` keep-alive sessions at once."""

    def post(session: Any, _: int) -> None:
        response = session.post(f"{web_url}/tasks", json={"task": "noop"}, timeout=10)
        if response.status_code != 202:
            raise RuntimeError(f"POST /tasks answered {response.status_code}")

    return run_load(total, concurrency, requests.Session, post, deadline_s)
