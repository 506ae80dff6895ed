"""`queues`: messages waiting, in flight and delayed, and the age of the oldest, per queue."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from botocore.exceptions import ClientError
from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table

from taskqueue_cli.options import Local, Stage, target
from taskqueue_cli.target import Target

EXAMPLES = """\
**Examples**

```
taskqueue queues
taskqueue queues --watch --interval 5
taskqueue queues --stage prod --json
```
"""

COUNTS = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}


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
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(COUNTS.values()))
    values = attributes["Attributes"]
    name = url.rstrip("/").rsplit("/", 1)[-1]
    counts = {field: int(values.get(attribute, 0)) for field, attribute in COUNTS.items()}
    return QueueStats(
        queue=label, name=name, **counts, oldest_age_seconds=oldest_age(cloudwatch, name)
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
    """The task queue and its dead-letter queue."""
    sqs, cloudwatch = stack.client("sqs"), stack.client("cloudwatch")
    return [
        read_stats(sqs, cloudwatch, "tasks", stack.queue_url),
        read_stats(sqs, cloudwatch, "dead-letter", stack.dlq_url),
    ]


def render(stats: list[QueueStats]) -> Table:
    """One row per queue."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("queue")
    table.add_column("name")
    for heading in ("visible", "in flight", "delayed", "oldest"):
        table.add_column(heading, justify="right")
    for row in stats:
        table.add_row(
            row.queue,
            row.name,
            str(row.visible),
            str(row.in_flight),
            str(row.delayed),
            age_text(row.oldest_age_seconds),
        )
    return table


def age_text(seconds: float | None) -> str:
    """`42s`, `3m05s`, `2h01m`; `-` when unknown."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def queues(
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh the table until Ctrl-C.")
    ] = False,
    interval: Annotated[float, typer.Option(help="With --watch: seconds between reads.")] = 2.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead.")] = False,
    stage: Stage = None,
    local: Local = False,
) -> None:
    """Show the task queue and the DLQ: visible, in flight, delayed, oldest message.

    Counts come from SQS GetQueueAttributes; the age of the oldest message from CloudWatch's
    one-minute metric ApproximateAgeOfOldestMessage (`-` without a recent datapoint, as on
    the local stack).
    """
    stack = target(stage, local)
    if as_json:
        for row in read_all(stack):
            typer.echo(json.dumps(asdict(row)))
        return
    console = Console()
    if not watch:
        console.print(render(read_all(stack)))
        return
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a watch ends
        refresh(stack, console, interval)


def refresh(stack: Target, console: Console, interval: float) -> None:
    """Redraw the table every `interval` seconds until Ctrl-C.

    On a terminal the table is redrawn in place; in a pipe or a log each read is a new table.
    """
    if not console.is_interactive:
        while True:
            console.print(render(read_all(stack)))
            time.sleep(interval)
    with Live(render(read_all(stack)), console=console, auto_refresh=False) as live:
        while True:
            time.sleep(interval)
            live.update(render(read_all(stack)), refresh=True)
