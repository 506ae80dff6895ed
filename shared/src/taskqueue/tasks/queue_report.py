"""The shipped periodic task: the task queue's and the DLQ's depth as one log line.

Useful on its own (a history of the backlog in the worker's logs, beside the alarms), and it
gives the template, `make run` and the tests a schedule to fire.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.config import Config
from celery import Task

from taskqueue import aws_session
from taskqueue.celery_config import aws_client_config
from taskqueue.schedules import schedule
from taskqueue.settings import Settings, get_settings
from taskqueue.tasks.registry import TaskParams, register

logger = logging.getLogger(__name__)

# SQS's approximate counts, by the names the report gives them.
COUNTS = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}


def dlq_url(settings: Settings) -> str:
    """The DLQ's URL: the task queue's, with the DLQ's name (same account and region)."""
    return settings.task_queue_url.rsplit("/", 1)[0] + "/" + settings.task_dlq_name


def queue_depths(settings: Settings) -> dict[str, dict[str, int]]:
    """The counts of the task queue and the DLQ (one GetQueueAttributes each)."""
    sqs = aws_session.client(
        "sqs",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(**aws_client_config(settings)),
    )
    depths = {}
    for label, url in (("tasks", settings.task_queue_url), ("dead_letter", dlq_url(settings))):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(COUNTS.values()))
        values = attributes["Attributes"]
        depths[label] = {field: int(values.get(name, 0)) for field, name in COUNTS.items()}
    return depths


class QueueReportParams(TaskParams):
    """queue_report takes no parameters."""


@register(QueueReportParams)
def queue_report(self: Task) -> dict[str, Any]:
    """Log the task queue's and the dead-letter queue's message counts as one JSON line."""
    depths = queue_depths(get_settings())
    logger.info("queue report", extra={"queues": depths})
    return depths


# Every five minutes on the clock (a cron, so AWS and `make run` fire at the same times).
QUEUE_REPORT = schedule("queue-report", task=queue_report, expression="cron(0/5 * * * ? *)")
