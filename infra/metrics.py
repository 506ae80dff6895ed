"""CloudWatch metrics shared by the worker autoscaling and the monitoring constructs, the
per-task metrics the worker logs (taskqueue.runtime.task_metrics), and the one dead-letter alarm."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from taskqueue.runtime import task_metrics
from taskqueue.runtime.task_metrics import Outcome

CONTAINER_INSIGHTS_NAMESPACE = "ECS/ContainerInsights"
ECS_NAMESPACE = "AWS/ECS"
CPU_UTILIZATION = "CPUUtilization"
RUNNING_TASK_COUNT = "RunningTaskCount"
DESIRED_TASK_COUNT = "DesiredTaskCount"
ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)

BACKLOG_WITHOUT_WORKERS_EXPRESSION = "IF(FILL(running, 0) == 0, visible, 0)"
"""Messages waiting while no worker task runs (0 as soon as one task runs).

Container Insights publishes no RunningTaskCount at all while a service has no task, so
the missing points are filled with 0. Without Container Insights `running` is the samples of
the service's free AWS/ECS CPUUtilization, which ECS sends only while a task runs (the
"available-metrics" page of the ECS guide): no sample is no task.
"""

BACKLOG_EXPRESSION = "FILL(visible, 0) + FILL(inFlight, 0)"
"""Messages waiting or in flight (the backlog steps scaling follows). SQS publishes nothing
for a queue idle six hours: no point is no message."""


def messages_visible(queue: sqs.IQueue, *, period: Duration = ONE_MINUTE) -> cloudwatch.Metric:
    """Messages waiting in the queue (the backlog)."""
    return queue.metric_approximate_number_of_messages_visible(
        period=period, statistic=cloudwatch.Stats.MAXIMUM
    )


def dead_letter_alarm(
    scope: Construct, construct_id: str, *, queue: sqs.IQueue, description: str
) -> cloudwatch.Alarm:
    """ALARM while a message is visible in the dead-letter queue `queue`.

    Missing data keeps the alarm's state: SQS publishes a queue's metrics only while it is
    active, so six hours after its last API call a DLQ still holding a message has no data.
    Not breaching would turn the alarm back to OK with the message still there; breaching
    would alarm on an empty DLQ nobody reads. An empty idle DLQ stays OK (or, never read
    since it was made, INSUFFICIENT_DATA, which notifies no one).
    """
    return cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=messages_visible(queue),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
    )


def oldest_message_age(queue: sqs.IQueue, *, period: Duration = ONE_MINUTE) -> cloudwatch.Metric:
    """Age in seconds of the oldest message in the queue."""
    return queue.metric_approximate_age_of_oldest_message(
        period=period, statistic=cloudwatch.Stats.MAXIMUM
    )


def _service_metric(
    metric_name: str,
    statistic: str,
    *,
    cluster_name: str,
    service_name: str,
    period: Duration,
    namespace: str = CONTAINER_INSIGHTS_NAMESPACE,
) -> cloudwatch.Metric:
    """One metric of one ECS service (Container Insights', unless `namespace` says)."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map={"ClusterName": cluster_name, "ServiceName": service_name},
        statistic=statistic,
        period=period,
    )


def running_tasks(
    *, cluster_name: str, service_name: str, period: Duration = ONE_MINUTE
) -> cloudwatch.Metric:
    """Running tasks of one ECS service (Container Insights)."""
    return _service_metric(
        RUNNING_TASK_COUNT,
        cloudwatch.Stats.AVERAGE,
        cluster_name=cluster_name,
        service_name=service_name,
        period=period,
    )


def desired_tasks(
    *, cluster_name: str, service_name: str, period: Duration = ONE_MINUTE
) -> cloudwatch.Metric:
    """The desired task count of one ECS service (Container Insights), its highest in the
    period: a period in which anything asked for a task does not count as 0."""
    return _service_metric(
        DESIRED_TASK_COUNT,
        cloudwatch.Stats.MAXIMUM,
        cluster_name=cluster_name,
        service_name=service_name,
        period=period,
    )


def cpu_utilization(
    *,
    cluster_name: str,
    service_name: str,
    statistic: str = cloudwatch.Stats.AVERAGE,
    period: Duration = ONE_MINUTE,
) -> cloudwatch.Metric:
    """The CPU per cent of one ECS service's tasks (AWS/ECS, free; no point without a task)."""
    return _service_metric(
        CPU_UTILIZATION,
        statistic,
        cluster_name=cluster_name,
        service_name=service_name,
        period=period,
        namespace=ECS_NAMESPACE,
    )


def task_presence(
    *, cluster_name: str, service_name: str, container_insights: bool, period: Duration
) -> cloudwatch.Metric:
    """A metric that is 0 or missing while the service runs no task, positive while one runs:
    Container Insights' running task count, or the samples of the free CPU metric."""
    if container_insights:
        return running_tasks(cluster_name=cluster_name, service_name=service_name, period=period)
    return cpu_utilization(
        cluster_name=cluster_name,
        service_name=service_name,
        statistic=cloudwatch.Stats.SAMPLE_COUNT,
        period=period,
    )


def backlog(queue: sqs.IQueue, *, period: Duration = ONE_MINUTE) -> cloudwatch.MathExpression:
    """Messages waiting or in flight in the queue (0 when SQS publishes none)."""
    return cloudwatch.MathExpression(
        expression=BACKLOG_EXPRESSION,
        using_metrics={
            "visible": messages_visible(queue, period=period),
            "inFlight": queue.metric_approximate_number_of_messages_not_visible(
                period=period, statistic=cloudwatch.Stats.MAXIMUM
            ),
        },
        label="Messages waiting or in flight",
        period=period,
    )


def backlog_without_workers(
    queue: sqs.IQueue,
    *,
    cluster_name: str,
    service_name: str,
    container_insights: bool,
    period: Duration = ONE_MINUTE,
) -> cloudwatch.MathExpression:
    """Visible messages while the worker service runs no task, else 0."""
    return cloudwatch.MathExpression(
        expression=BACKLOG_WITHOUT_WORKERS_EXPRESSION,
        using_metrics={
            "visible": messages_visible(queue, period=period),
            "running": task_presence(
                cluster_name=cluster_name,
                service_name=service_name,
                container_insights=container_insights,
                period=period,
            ),
        },
        label="Messages visible with no running worker",
        period=period,
    )


def task_metric(
    namespace: str,
    metric_name: str,
    task_name: str,
    *,
    statistic: str = cloudwatch.Stats.SUM,
    period: Duration = ONE_MINUTE,
    label: str | None = None,
) -> cloudwatch.Metric:
    """One of the worker's per-task metrics (taskqueue.runtime.task_metrics), for one task name."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map={task_metrics.DIMENSION: task_name},
        statistic=statistic,
        period=period,
        label=label,
    )


def task_runs(
    namespace: str, task_name: str, *, period: Duration = ONE_MINUTE
) -> cloudwatch.MathExpression:
    """Runs of the task that ended in success or failure (its throughput)."""
    return cloudwatch.MathExpression(
        expression="succeeded + failed",
        using_metrics={
            "succeeded": task_metric(namespace, Outcome.SUCCEEDED, task_name, period=period),
            "failed": task_metric(namespace, Outcome.FAILED, task_name, period=period),
        },
        label="Runs",
        period=period,
    )


TASK_FAILURE_RATE_EXPRESSION = "failed / (succeeded + failed)"
"""Failed runs per finished run. Every metrics record carries every outcome's count (0 or 1),
so a period with runs has both sums and one without has neither (missing: not breaching)."""


def task_failure_rate(
    namespace: str, task_name: str, *, period: Duration = FIVE_MINUTES
) -> cloudwatch.MathExpression:
    """Failed / (Succeeded + Failed) runs of the task in each period."""
    return cloudwatch.MathExpression(
        expression=TASK_FAILURE_RATE_EXPRESSION,
        using_metrics={
            "succeeded": task_metric(namespace, Outcome.SUCCEEDED, task_name, period=period),
            "failed": task_metric(namespace, Outcome.FAILED, task_name, period=period),
        },
        label=f"{task_name} failure rate",
        period=period,
    )
