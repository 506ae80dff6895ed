"""Backlog-per-task autoscaling of the worker service, with a wake-up from zero tasks.

Target tracking follows ``(visible + in-flight messages) / running tasks`` towards the
backlog at which a message waits the acceptable latency (`InfraConfig.backlog_per_task_target`,
which counts the worker's concurrency). The messages in flight count: a worker task busy
with long tasks has none visible, and counting only the visible ones would make it look
idle (scale-in itself cannot stop it while it runs a task: it protects itself through the
ECS agent). CDK's L2 target tracking does not accept
a metric-math expression (aws-cdk issue #34072), so the policy is the L1
`CfnScalingPolicy` with a customized metric specification made of `metrics`.

Target tracking cannot leave 0 tasks: with no running task the ratio has no value. A
step-scaling action sets the capacity to 1 as soon as one message is visible while the
service's *desired* count is 0. Not while no task *runs*: Auto Scaling runs an alarm's
action again every minute while the alarm stays in ALARM, so that would set the count back
to 1 whenever the running tasks drop to 0 under a higher desired count (no Spot capacity,
a crash loop), fighting target tracking.

Both read Container Insights (RunningTaskCount, DesiredTaskCount). Without it (the stage's
`containerInsights` false) those metrics do not exist and neither policy would ever act, so
the service scales by steps on the backlog alone (`BacklogSteps`): while at least one message
waits or runs, an alarm's step policy sets the capacity to ceil(backlog / target backlog per
task), capped at the maximum; Auto Scaling runs the action again every minute while the alarm
stays in ALARM, so the capacity follows the backlog up and down. A second alarm sets the
minimum once the backlog has been 0 for the scale-in cooldown. A busy worker task is safe
from either (task scale-in protection). One step per task count: a policy holds 20 steps at
most, so `InfraConfig` refuses a larger workerMaxCount in that mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aws_cdk import Aws, Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import ServiceCounts
from infra.metrics import backlog, desired_tasks, messages_visible

Cfn = appscaling.CfnScalingPolicy

BACKLOG_PER_TASK_EXPRESSION = "(visible + inFlight) / running"
WAKE_EXPRESSION = "IF(FILL(desired, 0) == 0, visible, 0)"
"""Messages waiting while the desired count is 0. Container Insights may publish no point
for a service with no task at all: a missing desired count is 0."""
BACKLOG_POLICY_NAME = "backlog-per-task"
ECS_AUTOSCALING_ROLE = (
    "aws-service-role/ecs.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_ECSService"
)
"""The service-linked role Application Auto Scaling uses for ECS (as CDK's ECS module)."""


@dataclass(frozen=True)
class Step:
    """One step of `BacklogSteps`: backlog - 1 in [lower, upper) sets `capacity` tasks."""

    lower: int
    upper: int | None
    capacity: int


def backlog_steps(counts: ServiceCounts, target_backlog_per_task: float) -> list[Step]:
    """The steps that set ceil(backlog / target) tasks, within `counts`, for a whole backlog
    of at least 1 (the alarm's threshold, which step bounds are relative to).

    A backlog b needs c tasks when (c - 1) x target < b <= c x target, that is b - 1 in
    [floor((c - 1) x target), floor(c x target)); the first step starts at 0 (every backlog
    under the busy minimum's share), the last has no upper bound (the maximum).
    """
    capacities = counts.busy_counts
    return [
        Step(
            lower=0 if c == capacities.start else math.floor((c - 1) * target_backlog_per_task),
            upper=None if c == capacities.stop - 1 else math.floor(c * target_backlog_per_task),
            capacity=c,
        )
        for c in capacities
    ]


@dataclass(frozen=True)
class BacklogSteps:
    """Step scaling on the backlog alone (no Container Insights): its two actions and alarms."""

    busy_action: appscaling.StepScalingAction
    busy_alarm: cloudwatch.Alarm
    idle_action: appscaling.StepScalingAction
    idle_alarm: cloudwatch.Alarm


class WorkerAutoscaling(Construct):
    """Scalable target (min/max from context) plus the two scaling policies: target tracking
    and the wake-up with Container Insights, else the backlog steps."""

    scalable_target: appscaling.ScalableTarget
    backlog_policy: appscaling.CfnScalingPolicy | None = None
    wake_action: appscaling.StepScalingAction | None = None
    wake_alarm: cloudwatch.Alarm | None = None
    steps: BacklogSteps | None = None
    target_backlog_per_task: float

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        service: ecs.FargateService,
        queue: sqs.IQueue,
        counts: ServiceCounts,
        target_backlog_per_task: float,
        scale_out_cooldown: Duration,
        scale_in_cooldown: Duration,
        container_insights: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.target_backlog_per_task = target_backlog_per_task
        self.scalable_target = appscaling.ScalableTarget(
            self,
            "Target",
            service_namespace=appscaling.ServiceNamespace.ECS,
            resource_id=f"service/{cluster.cluster_name}/{service.service_name}",
            scalable_dimension="ecs:service:DesiredCount",
            min_capacity=counts.minimum,
            max_capacity=counts.maximum,
            role=iam.Role.from_role_arn(
                self,
                "ServiceLinkedRole",
                f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{ECS_AUTOSCALING_ROLE}",
            ),
        )
        if not container_insights:
            self.steps = self._backlog_steps(
                queue, counts, target_backlog_per_task, scale_out_cooldown, scale_in_cooldown
            )
            return

        self.backlog_policy = Cfn(
            self,
            "BacklogPerTask",
            policy_name=BACKLOG_POLICY_NAME,
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.scalable_target.scalable_target_id,
            target_tracking_scaling_policy_configuration=Cfn.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=target_backlog_per_task,
                scale_out_cooldown=scale_out_cooldown.to_seconds(),
                scale_in_cooldown=scale_in_cooldown.to_seconds(),
                customized_metric_specification=Cfn.CustomizedMetricSpecificationProperty(
                    metrics=[
                        _metric_query(
                            "visible",
                            namespace="AWS/SQS",
                            metric_name="ApproximateNumberOfMessagesVisible",
                            dimensions={"QueueName": queue.queue_name},
                            stat="Sum",
                        ),
                        _metric_query(
                            "inFlight",
                            namespace="AWS/SQS",
                            metric_name="ApproximateNumberOfMessagesNotVisible",
                            dimensions={"QueueName": queue.queue_name},
                            stat="Sum",
                        ),
                        _metric_query(
                            "running",
                            namespace="ECS/ContainerInsights",
                            metric_name="RunningTaskCount",
                            dimensions={
                                "ClusterName": cluster.cluster_name,
                                "ServiceName": service.service_name,
                            },
                            stat="Average",
                        ),
                        Cfn.TargetTrackingMetricDataQueryProperty(
                            id="backlogPerTask",
                            expression=BACKLOG_PER_TASK_EXPRESSION,
                            label="Messages waiting or in flight per running worker task",
                            return_data=True,
                        ),
                    ]
                ),
            ),
        )

        self.wake_action = self._exact_capacity("WakeFromZero", scale_out_cooldown)
        self.wake_action.add_adjustment(adjustment=max(1, counts.minimum), lower_bound=0)
        self.wake_alarm = cloudwatch.Alarm(
            self,
            "WakeAlarm",
            alarm_description=(
                "A message is visible while the worker service's desired count is 0: "
                "set its capacity to 1 (target tracking takes over from there)."
            ),
            metric=cloudwatch.MathExpression(
                expression=WAKE_EXPRESSION,
                using_metrics={
                    "visible": messages_visible(queue),
                    "desired": desired_tasks(
                        cluster_name=cluster.cluster_name, service_name=service.service_name
                    ),
                },
                label="Messages visible while the worker service's desired count is 0",
                period=Duration.minutes(1),
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.wake_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(self.wake_action))

    def _exact_capacity(
        self, construct_id: str, cooldown: Duration
    ) -> appscaling.StepScalingAction:
        """A step policy whose steps set the capacity (on the alarm metric's highest value)."""
        return appscaling.StepScalingAction(
            self,
            construct_id,
            scaling_target=self.scalable_target,
            adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
            metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
            cooldown=cooldown,
        )

    def _backlog_steps(
        self,
        queue: sqs.IQueue,
        counts: ServiceCounts,
        target_backlog_per_task: float,
        scale_out_cooldown: Duration,
        scale_in_cooldown: Duration,
    ) -> BacklogSteps:
        """The busy alarm (backlog >= 1) setting ceil(backlog / target) tasks each minute,
        and the idle alarm (backlog 0 for the scale-in cooldown) setting the minimum."""
        busy_action = self._exact_capacity("BacklogSteps", scale_out_cooldown)
        for step in backlog_steps(counts, target_backlog_per_task):
            busy_action.add_adjustment(
                adjustment=step.capacity, lower_bound=step.lower, upper_bound=step.upper
            )
        busy_alarm = cloudwatch.Alarm(
            self,
            "BacklogAlarm",
            alarm_description=(
                "Messages wait or run: set the worker service's capacity to ceil(backlog /"
                f" {target_backlog_per_task:g}) tasks, again each minute while they do."
            ),
            metric=backlog(queue),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        busy_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(busy_action))

        idle_action = self._exact_capacity("IdleToMinimum", scale_in_cooldown)
        idle_action.add_adjustment(adjustment=counts.minimum, upper_bound=0)
        idle_minutes = max(1, math.ceil(scale_in_cooldown.to_seconds() / 60))
        idle_alarm = cloudwatch.Alarm(
            self,
            "IdleAlarm",
            alarm_description=(
                f"No message has waited or run for {idle_minutes} minutes: set the worker"
                f" service's capacity to its minimum ({counts.minimum})."
            ),
            metric=backlog(queue),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=idle_minutes,
            datapoints_to_alarm=idle_minutes,
            # No point at all: SQS publishes none for a queue idle six hours.
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        idle_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(idle_action))
        return BacklogSteps(busy_action, busy_alarm, idle_action, idle_alarm)


def _metric_query(
    query_id: str,
    *,
    namespace: str,
    metric_name: str,
    dimensions: dict[str, str],
    stat: str,
) -> Cfn.TargetTrackingMetricDataQueryProperty:
    return Cfn.TargetTrackingMetricDataQueryProperty(
        id=query_id,
        return_data=False,
        metric_stat=Cfn.TargetTrackingMetricStatProperty(
            stat=stat,
            metric=Cfn.TargetTrackingMetricProperty(
                namespace=namespace,
                metric_name=metric_name,
                dimensions=[
                    Cfn.TargetTrackingMetricDimensionProperty(name=name, value=value)
                    for name, value in dimensions.items()
                ],
            ),
        ),
    )
