"""What the status panel shows, read at each refresh; a source that does not answer is None
(the panel says "unavailable" there and shows the rest)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from botocore.config import Config
from flask import Flask, current_app
from taskqueue import aws_session
from taskqueue.app_settings import settings_of
from taskqueue.catalogue.registry import queues_of
from taskqueue.settings import QueueAddress
from taskqueue.stores.queue_depth import QueueDepth, read_depth
from taskqueue.stores.results import FINAL_STATES
from taskqueue.stores.task_list import TaskSummary, list_tasks
from taskqueue.stores.worker_presence import WorkerPresence, live_workers

from web_service.catalogue import catalogue_of
from web_service.enqueue import BROKER_ERRORS

logger = logging.getLogger(__name__)

T = TypeVar("T")
SQS_CLIENT = "status.sqs"
# The client's most recent tasks the panel lists.
RECENT_TASKS = 20


@dataclass(frozen=True)
class QueueCounts:
    """One queue's counts and its DLQ's, or None where SQS did not answer."""

    queue: str
    depth: QueueDepth | None
    dead_letter: QueueDepth | None


@dataclass(frozen=True)
class Panel:
    """One refresh of the panel: each part, or None where its source did not answer."""

    queues: list[QueueCounts]
    """Every declared queue, the default first."""
    workers: list[WorkerPresence] | None
    tasks: list[TaskSummary] | None
    now: datetime

    def run_time(self, task: TaskSummary) -> float:
        """Seconds from queueing to the task's end, or to now while it has not ended."""
        end = task.updated_at if finished(task) else self.now.timestamp()
        return max(0.0, end - task.queued_at)


def finished(task: TaskSummary) -> bool:
    """The task ended (succeeded, failed, was cancelled or dead-lettered): nothing left to
    cancel."""
    return task.state in FINAL_STATES


def duration(seconds: float) -> str:
    """`seconds` for people: 4 s, 2 min 5 s, 1 h 3 min."""
    whole = max(0, int(seconds))  # a worker's clock a little ahead is "0 s", not negative
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def sqs_client(app: Flask) -> Any:
    """The SQS client that reads the counts (the settings' endpoint and timeouts, no retry:
    the next refresh is the retry)."""
    client = app.extensions.get(SQS_CLIENT)
    if client is None:
        settings = settings_of(app)
        client = aws_session.client(
            "sqs",
            region_name=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            config=Config(
                connect_timeout=settings.aws_client_connect_timeout,
                read_timeout=settings.aws_client_read_timeout,
                retries={"total_max_attempts": 1},
            ),
        )
        app.extensions[SQS_CLIENT] = client
    return client


def available(what: str, read: Callable[[], T]) -> T | None:
    """`read()`, or None (logged) when AWS does not answer or refuses."""
    try:
        return read()
    except BROKER_ERRORS as error:
        logger.warning("status panel: %s unavailable: %s", what, error)
        return None


def read_counts(sqs: Any, address: QueueAddress) -> QueueCounts:
    """One queue's counts and its DLQ's (two GetQueueAttributes)."""
    return QueueCounts(
        queue=address.queue,
        depth=available("queue counts", lambda: read_depth(sqs, address.url)),
        dead_letter=available("DLQ count", lambda: read_depth(sqs, address.dlq_url)),
    )


def read_panel(client: str) -> Panel:
    """The panel of `client`: queue counts, workers, the client's recent tasks."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    settings, sqs, celery = settings_of(app), sqs_client(app), app.extensions["celery"]
    queues = queues_of(catalogue_of(app).tasks.values())
    return Panel(
        queues=[read_counts(sqs, settings.queue_address(queue)) for queue in queues],
        workers=available("workers", lambda: live_workers(celery, client=client)),
        tasks=available("tasks", lambda: list_tasks(celery, client, limit=RECENT_TASKS).items),
        now=datetime.now(UTC),
    )
