"""A queue's messages: waiting, in flight and delayed, and the age of the oldest."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from taskqueue.settings import DEFAULT_QUEUE
from taskqueue.stores.queue_depth import read_depth

from taskqueue_cli.target import Target


@dataclass(frozen=True)
class QueueStats:
    """One queue's numbers, as SQS and CloudWatch report them."""

    queue: str
    name: str
    visible: int
    in_flight: int
    delayed: int
    oldest_age_seconds: float | None


def read_stats(sqs: Any, cloudwatch: Any, label: str, url: str) -> QueueStats:
    """The counts (SQS GetQueueAttributes) and the oldest message's age (CloudWatch)."""
    depth = read_depth(sqs, url)
    name = url.rstrip("/").rsplit("/", 1)[-1]
    return QueueStats(
        queue=label, name=name, **asdict(depth), oldest_age_seconds=oldest_age(cloudwatch, name)
    )


def oldest_age(cloudwatch: Any, queue_name: str) -> float | None:
    """SQS publishes the age only as the CloudWatch metric ApproximateAgeOfOldestMessage.

    None when there is no recent datapoint (an idle queue, or the local stack, whose
    endpoint publishes no SQS metrics) or the caller may not read metrics.
    """
    now = datetime.now(UTC)
    query = {
        "Id": "age",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
            },
            "Period": 60,
            "Stat": "Maximum",
        },
    }
    try:
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=[query],
            StartTime=now - timedelta(minutes=10),
            EndTime=now,
            ScanBy="TimestampDescending",
        )
    except ClientError:
        return None
    values = answer["MetricDataResults"][0]["Values"]
    return float(values[0]) if values else None


def read_all(stack: Target) -> list[QueueStats]:
    """Each queue and its dead-letter queue: the default's as `tasks` and `dead-letter`, then
    each other queue's under its name (`reports`, `reports dead-letter`)."""
    sqs, cloudwatch = stack.client("sqs"), stack.client("cloudwatch")
    stats = []
    for queue, urls in stack.queues().items():
        label = "tasks" if queue == DEFAULT_QUEUE else queue
        dead = "dead-letter" if queue == DEFAULT_QUEUE else f"{queue} dead-letter"
        stats += [
            read_stats(sqs, cloudwatch, label, urls.url),
            read_stats(sqs, cloudwatch, dead, urls.dlq_url),
        ]
    return stats
