"""CloudWatch metrics shared by the worker autoscaling and the monitoring constructs."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs

CONTAINER_INSIGHTS_NAMESPACE = "ECS/ContainerInsights"
RUNNING_TASK_COUNT = "RunningTaskCount"
ONE_MINUTE = Duration.minutes(1)

BACKLOG_WITHOUT_WORKERS_EXPRESSION = "IF(FILL(running, 0) == 0, visible, 0)"
"""Messages waiting while no worker task runs (0 as soon as one task runs).

Container Insights publishes no RunningTaskCount at all while a service has no task, so
the missing points are filled with 0.
"""


def messages_visible(queue: sqs.IQueue, *, period: Duration = ONE_MINUTE) -> cloudwatch.Metric:
    """Messages waiting in the queue (the backlog)."""
    return queue.metric_approximate_number_of_messages_visible(
        period=period, statistic=cloudwatch.Stats.MAXIMUM
    )


def oldest_message_age(queue: sqs.IQueue, *, period: Duration = ONE_MINUTE) -> cloudwatch.Metric:
    """Age in seconds of the oldest message in the queue."""
    return queue.metric_approximate_age_of_oldest_message(
        period=period, statistic=cloudwatch.Stats.MAXIMUM
    )


def running_tasks(
    *, cluster_name: str, service_name: str, period: Duration = ONE_MINUTE
) -> cloudwatch.Metric:
    """Running tasks of one ECS service (Container Insights)."""
    return cloudwatch.Metric(
        namespace=CONTAINER_INSIGHTS_NAMESPACE,
        metric_name=RUNNING_TASK_COUNT,
        dimensions_map={"ClusterName": cluster_name, "ServiceName": service_name},
        statistic=cloudwatch.Stats.AVERAGE,
        period=period,
    )


def backlog_without_workers(
    queue: sqs.IQueue,
    *,
    cluster_name: str,
    service_name: str,
    period: Duration = ONE_MINUTE,
) -> cloudwatch.MathExpression:
    """Visible messages while the worker service runs no task, else 0."""
    return cloudwatch.MathExpression(
        expression=BACKLOG_WITHOUT_WORKERS_EXPRESSION,
        using_metrics={
            "visible": messages_visible(queue, period=period),
            "running": running_tasks(
                cluster_name=cluster_name, service_name=service_name, period=period
            ),
        },
        label="Messages visible with no running worker",
        period=period,
    )
