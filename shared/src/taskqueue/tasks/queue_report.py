"""The shipped periodic task: the task queue's and the DLQ's depth as one log line.

Useful on its own (a history of the backlog in the worker's logs, beside the alarms), and it
gives the template, `make run` and the tests a schedule to fire.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from celery import Task
from flask import current_app

from taskqueue import TaskParams, register, schedule
from taskqueue.app_settings import settings_of
from taskqueue.runtime.celery_config import aws_client
from taskqueue.settings import Settings
from taskqueue.stores.queue_depth import read_depth

logger = logging.getLogger(__name__)


def queue_depths(settings: Settings) -> dict[str, dict[str, int]]:
    """The counts of the task queue and the DLQ (one GetQueueAttributes each)."""
    sqs = aws_client("sqs", settings)
    queues = {"tasks": settings.task_queue_url, "dead_letter": settings.dlq_url}
    return {label: asdict(read_depth(sqs, url)) for label, url in queues.items()}


class QueueReportParams(TaskParams):
    """queue_report takes no parameters."""


@register(QueueReportParams)
def queue_report(self: Task) -> dict[str, Any]:
    """Log the task queue's and the dead-letter queue's message counts as one JSON line."""
    # The settings of the worker's Flask app: the task runs in its app context.
    depths = queue_depths(settings_of(current_app))
    logger.info("queue report", extra={"queues": depths})
    return depths


# Every five minutes on the clock (a cron, so AWS and `make run` fire at the same times).
schedule("queue-report", task=queue_report, expression="cron(0/5 * * * ? *)")
