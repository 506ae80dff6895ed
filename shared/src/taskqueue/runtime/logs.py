"""JSON-lines logging on stdout, with the request id and the task id on every line (and, in a
worker, the queue it consumes)."""

from __future__ import annotations

import logging
import sys

from celery import current_task
from flask import g, has_request_context
from pythonjsonlogger.json import JsonFormatter

from taskqueue.runtime.task_metrics import EMF_FIELD


class ContextFilter(logging.Filter):
    """Adds `request_id` (web) and `task_id`/`task_name` and `queue` (worker) to each record."""

    queue: str | None = None
    """The worker's one queue (`log_queue`); None in the web."""

    def filter(self, record: logging.LogRecord) -> bool:
        if ContextFilter.queue is not None:
            record.queue = ContextFilter.queue
        if has_request_context() and "request_id" in g:
            record.request_id = g.request_id
        task = current_task
        if task and task.request.id and not hasattr(record, "task_id"):
            record.task_id = task.request.id
            record.task_name = task.name
        return True


def log_queue(queue: str) -> None:
    """Name `queue` on every record this process (and the pool it forks) logs from now on."""
    ContextFilter.queue = queue


def json_formatter() -> JsonFormatter:
    """One JSON object per record. The formatter drops extra fields whose name starts with
    `_`, so a metrics record's EMF block is passed as `EMF_FIELD` and renamed `_aws` here."""
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={
            "asctime": "time",
            "levelname": "level",
            "name": "logger",
            EMF_FIELD: "_aws",
        },
    )


def configure_logging(level: str) -> None:
    """Send every logger's records to stdout as JSON lines (idempotent)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if any(getattr(h, "_taskqueue", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(json_formatter())
    handler.addFilter(ContextFilter())
    handler._taskqueue = True  # type: ignore[attr-defined]
    root.addHandler(handler)
