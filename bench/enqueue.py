"""Enqueue throughput: `POST /tasks` through gunicorn from a bounded concurrent load."""

from __future__ import annotations

from typing import Any

import requests
from taskqueue_cli.api import TaskApi

from bench.load import LoadResult, run_load


def web_enqueue(
    web_url: str,
    total: int,
    concurrency: int,
    deadline_s: float,
    *,
    api_key: str,
    task: str = "noop",
    params: dict[str, Any] | None = None,
) -> LoadResult:
    """`total` tasks (noop unless `task` says) queued through the web, `concurrency`
    keep-alive sessions at once."""

    def post(api: TaskApi, _: int) -> None:
        api.enqueue(task, params)

    def connect() -> TaskApi:
        return TaskApi(web_url, session=requests.Session(), api_key=api_key)

    return run_load(total, concurrency, connect, post, deadline_s)
