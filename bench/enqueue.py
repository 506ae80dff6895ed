"""Enqueue throughput: `POST /tasks` through gunicorn from a bounded concurrent load."""

from __future__ import annotations

from taskqueue_cli.api import TaskApi

from bench.load import LoadResult, run_load


def web_enqueue(web_url: str, total: int, concurrency: int, deadline_s: float) -> LoadResult:
    """`total` noop tasks queued through the web, `concurrency` keep-alive sessions at once."""

    def post(api: TaskApi, _: int) -> None:
        api.enqueue("noop")

    return run_load(total, concurrency, lambda: TaskApi(web_url), post, deadline_s)
