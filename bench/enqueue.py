"""Enqueue throughput: `POST /tasks` through gunicorn from a bounded concurrent load."""

from __future__ import annotations

import requests
from taskqueue_cli.api import TaskApi

from bench.load import LoadResult, run_load


def web_enqueue(
    web_url: str, total: int, concurrency: int, deadline_s: float, *, api_key: str
) -> LoadResult:
    """`total` noop tasks queued through the web, `concurrency` keep-alive sessions at once."""

    def post(api: TaskApi, _: int) -> None:
        api.enqueue("noop")

    def connect() -> TaskApi:
        return TaskApi(web_url, session=requests.Session(), api_key=api_key)

    return run_load(total, concurrency, connect, post, deadline_s)
