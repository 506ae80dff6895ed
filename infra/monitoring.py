"""Alarms and the CloudWatch dashboard of the queues, their workers and the web service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from taskqueue.catalogue.registry import DEFAULT_QUEUE
from taskqueue.runtime.task_metrics import QUEUE_WAIT, RUN_TIME, Outcome

from infra.metrics import (
    backlog_without_workers,
    cpu_utilization,
    dead_letter_alarm,
    messages_visible,
    oldest_message_age,
    running_tasks,
    task_failure_rate,
    task_metric,
    task_runs,
)

FIVE_MINUTES = Duration.minutes(5)
_event_field = events.EventField.from_path
DEPLOYMENT_FAILED = "SERVICE_DEPLOYMENT_FAILED"


@dataclass(frozen=True)
class WatchedQueue:
    """One declared queue as its alarms and its dashboard row see it."""

    name: str
    queue: sqs.IQueue
    dead_letter_queue: sqs.IQueue
    worker_service_name: str
    oldest_message_threshold: Duration


@dataclass(frozen=True)
class QueueAlarms:
    """The alarms of one queue: its DLQ, its oldest message, its backlog with no worker."""

    dead_letters: cloudwatch.Alarm
    oldest_message: cloudwatch.Alarm
    backlog_without_workers: cloudwatch.Alarm


class Monitoring(Construct):
    """Per queue DLQ, oldest-message and backlog-without-workers alarms; ALB 5xx and
    no-healthy-target alarms,
    a failure-rate alarm per task, a rule that notifies a failed ECS deployment, and a
    dashboard with a row per queue (depth, oldest message, its workers) and a row per task
    (runs, failures, run time and queue wait percentiles). The default queue's alarms keep
    the ids of the one-queue stack; another queue's are under its own name.

    The per-task alarms and rows come from the task names given (the registry): an alarm
    cannot use a SEARCH expression, and one alarm over all tasks would hide a rarely run
    task that always fails behind a busy one that never does.

    A failed deployment is an event, not a metric: ECS emits `SERVICE_DEPLOYMENT_FAILED`
    once, when the circuit breaker gives up (and rolls back), and CloudWatch has no metric
    for it. An EventBridge rule delivers that event to the topic as it happens; an alarm on
    a derived metric (running count below desired) would also fire on every scale-out
    and miss a rollback that restores the count.

    Without Container Insights (`container_insights` false) no running task count exists:
    "no worker runs" is read from the free AWS/ECS CPU metric's samples, and the dashboard's
    row shows the services' CPU instead of their running tasks.
    """

    queue_alarms: dict[str, QueueAlarms]
    dlq_alarm: cloudwatch.Alarm
    oldest_message_alarm: cloudwatch.Alarm
    alb_5xx_alarm: cloudwatch.Alarm
    backlog_without_workers_alarm: cloudwatch.Alarm
    no_healthy_targets_alarm: cloudwatch.Alarm
    task_failure_rate_alarms: dict[str, cloudwatch.Alarm]
    deployment_failed_rule: events.Rule | None
    alarms: list[cloudwatch.Alarm]
    dashboard: cloudwatch.Dashboard

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        queues: Sequence[WatchedQueue],
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        cluster_name: str,
        web_service_name: str,
        container_insights: bool,
        services: list[ecs.IBaseService],
        alb_5xx_threshold: int,
        backlog_without_workers_minutes: int,
        metrics_namespace: str,
        task_names: Sequence[str],
        task_failure_rate_threshold: float,
        alarm_topic: sns.ITopic | None,
    ) -> None:
        super().__init__(scope, construct_id)

        self.queue_alarms = {
            watched.name: _queue_alarms(
                # The default queue's alarms keep their ids; another queue's are its own.
                self if watched.name == DEFAULT_QUEUE else Construct(self, _camel(watched.name)),
                watched,
                cluster_name=cluster_name,
                backlog_without_workers_minutes=backlog_without_workers_minutes,
                container_insights=container_insights,
            )
            for watched in queues
        }
        default = self.queue_alarms[DEFAULT_QUEUE]
        self.dlq_alarm = default.dead_letters
        self.oldest_message_alarm = default.oldest_message
        self.backlog_without_workers_alarm = default.backlog_without_workers
        elb_5xx = load_balancer.metrics.http_code_elb(
            elbv2.HttpCodeElb.ELB_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum"
        )
        target_5xx = load_balancer.metrics.http_code_target(
            elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum"
        )
        self.alb_5xx_alarm = cloudwatch.Alarm(
            self,
            "Alb5xx",
            alarm_description="The load balancer or the web tasks answered 5xx.",
            metric=cloudwatch.MathExpression(
                expression="FILL(elb5xx, 0) + FILL(target5xx, 0)",
                using_metrics={"elb5xx": elb_5xx, "target5xx": target_5xx},
                label="ALB + target 5xx",
                period=FIVE_MINUTES,
            ),
            threshold=alb_5xx_threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # HealthyHostCount is reported for the targets the health checks see: with no target
        # registered at all (the web service at 0 tasks, every task stopped) there is no
        # data, and no data is no healthy target.
        self.no_healthy_targets_alarm = cloudwatch.Alarm(
            self,
            "NoHealthyTargets",
            alarm_description="The load balancer has no healthy web task: every request fails.",
            metric=target_group.metrics.healthy_host_count(
                period=Duration.minutes(1), statistic="Minimum"
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.task_failure_rate_alarms = {
            name: cloudwatch.Alarm(
                self,
                f"TaskFailureRate{_camel(name)}",
                alarm_description=(
                    f"More than {task_failure_rate_threshold:.0%} of the runs of task {name}"
                    " failed in 5 minutes."
                ),
                metric=task_failure_rate(metrics_namespace, name),
                threshold=task_failure_rate_threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            for name in task_names
        }
        self.alarms = [
            self.dlq_alarm,
            self.oldest_message_alarm,
            self.alb_5xx_alarm,
            self.backlog_without_workers_alarm,
            self.no_healthy_targets_alarm,
            *self.task_failure_rate_alarms.values(),
            *(
                alarm
                for name, alarms in self.queue_alarms.items()
                if name != DEFAULT_QUEUE
                for alarm in (
                    alarms.dead_letters,
                    alarms.oldest_message,
                    alarms.backlog_without_workers,
                )
            ),
        ]
        self.deployment_failed_rule = None
        if alarm_topic is not None:
            for alarm in self.alarms:
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
                alarm.add_ok_action(cw_actions.SnsAction(alarm_topic))
            self.deployment_failed_rule = events.Rule(
                self,
                "DeploymentFailed",
                description="An ECS deployment of the web or a worker failed (rolled back).",
                event_pattern=events.EventPattern(
                    source=["aws.ecs"],
                    detail_type=["ECS Deployment State Change"],
                    resources=[service.service_arn for service in services],
                    detail={"eventName": [DEPLOYMENT_FAILED]},
                ),
                targets=[
                    targets.SnsTopic(
                        alarm_topic,
                        message=events.RuleTargetInput.from_text(
                            f"ECS deployment failed: {_event_field('$.resources[0]')}"
                            f": {_event_field('$.detail.reason')}"
                        ),
                    )
                ],
            )

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=Duration.hours(3),
        )
        for watched in queues:
            # The web's running tasks beside the default queue's workers, as before.
            web = web_service_name if watched.name == DEFAULT_QUEUE else None
            self.dashboard.add_widgets(
                *_queue_widgets(watched, cluster_name, web, container_insights)
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="ALB requests",
                left=[load_balancer.metrics.request_count(period=Duration.minutes(1))],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="ALB target latency (s)",
                left=[
                    target_group.metrics.target_response_time(
                        period=Duration.minutes(1), statistic="p50", label="p50"
                    ),
                    target_group.metrics.target_response_time(
                        period=Duration.minutes(1), statistic="p99", label="p99"
                    ),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="ALB 5xx",
                left=[elb_5xx.with_(label="ELB 5xx"), target_5xx.with_(label="Target 5xx")],
                width=8,
            ),
        )
        for name in task_names:
            self.dashboard.add_widgets(*_task_widgets(metrics_namespace, name))
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24)
        )


def _queue_alarms(
    scope: Construct,
    watched: WatchedQueue,
    *,
    cluster_name: str,
    backlog_without_workers_minutes: int,
    container_insights: bool,
) -> QueueAlarms:
    """One queue's alarms: a message in its DLQ, its oldest message, a backlog no worker of
    its own service runs."""
    queue = watched.queue
    of_queue = "" if watched.name == DEFAULT_QUEUE else f" (queue {watched.name})"
    return QueueAlarms(
        dead_letters=dead_letter_alarm(
            scope,
            "DeadLetterMessages",
            queue=watched.dead_letter_queue,
            description="Messages reached the dead-letter queue: tasks failed repeatedly."
            + of_queue,
        ),
        oldest_message=cloudwatch.Alarm(
            scope,
            "OldestMessageAge",
            alarm_description="The oldest task waited longer than the acceptable age." + of_queue,
            metric=oldest_message_age(queue),
            threshold=watched.oldest_message_threshold.to_seconds(),
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
        backlog_without_workers=cloudwatch.Alarm(
            scope,
            "BacklogWithoutWorkers",
            alarm_description=(
                "Messages are waiting and no worker task has run for "
                f"{backlog_without_workers_minutes} minutes (wake-up scaling did not help)."
                + of_queue
            ),
            metric=backlog_without_workers(
                queue,
                cluster_name=cluster_name,
                service_name=watched.worker_service_name,
                container_insights=container_insights,
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=backlog_without_workers_minutes,
            datapoints_to_alarm=backlog_without_workers_minutes,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
    )


def _queue_widgets(
    watched: WatchedQueue,
    cluster_name: str,
    web_service_name: str | None,
    container_insights: bool,
) -> list[cloudwatch.IWidget]:
    """One dashboard row for one queue: its depth and DLQ, its oldest message, its workers
    (and the web's tasks, when `web_service_name` is given): their running tasks, or their
    CPU without Container Insights."""
    queue = watched.queue
    title = "{}" if watched.name == DEFAULT_QUEUE else f"{watched.name}: {{}}"
    service_metric = running_tasks if container_insights else cpu_utilization
    services = {"Workers": watched.worker_service_name}
    if web_service_name is not None:
        services["Web"] = web_service_name
    running: list[cloudwatch.IMetric] = [
        service_metric(cluster_name=cluster_name, service_name=name).with_(label=label)
        for label, name in services.items()
    ]
    return [
        cloudwatch.GraphWidget(
            title=title.format("Queue depth"),
            left=[
                messages_visible(queue).with_(label="Visible"),
                queue.metric_approximate_number_of_messages_not_visible(
                    period=Duration.minutes(1), statistic="Maximum", label="In flight"
                ),
                messages_visible(watched.dead_letter_queue).with_(label="Dead-letter queue"),
            ],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title=title.format("Age of oldest message (s)"),
            left=[oldest_message_age(queue).with_(label="Oldest message")],
            left_annotations=[
                cloudwatch.HorizontalAnnotation(
                    value=watched.oldest_message_threshold.to_seconds(), label="Alarm"
                )
            ],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title=title.format("Running tasks" if container_insights else "CPU utilization (%)"),
            left=running,
            width=8,
        ),
    ]


def _task_widgets(namespace: str, name: str) -> list[cloudwatch.IWidget]:
    """One dashboard row for one task: runs and failures, run time, queue wait (ms)."""

    def percentiles(metric_name: str, stats: Sequence[str]) -> list[cloudwatch.IMetric]:
        return [
            task_metric(namespace, metric_name, name, statistic=stat, label=stat) for stat in stats
        ]

    return [
        cloudwatch.GraphWidget(
            title=f"{name}: runs per minute",
            left=[
                task_runs(namespace, name),
                task_metric(namespace, Outcome.FAILED, name, label="Failed"),
                task_metric(namespace, Outcome.RETRIED, name, label="Retried"),
                task_metric(namespace, Outcome.DUPLICATE, name, label="Duplicate"),
            ],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title=f"{name}: run time (ms)",
            left=percentiles(RUN_TIME, ("p50", "p95", "p99")),
            width=8,
        ),
        cloudwatch.GraphWidget(
            title=f"{name}: queue wait (ms)",
            left=percentiles(QUEUE_WAIT, ("p50", "p95")),
            width=8,
        ),
    ]


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))
