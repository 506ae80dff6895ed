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
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import ServiceCounts
from infra.metrics import desired_tasks, messages_visible

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


class WorkerAutoscaling(Construct):
    """Scalable target (min/max from context) plus the two scaling policies."""

    scalable_target: appscaling.ScalableTarget
    backlog_policy: appscaling.CfnScalingPolicy
    wake_action: appscaling.StepScalingAction
    wake_alarm: cloudwatch.Alarm
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

        self.wake_action = appscaling.StepScalingAction(
            self,
            "WakeFromZero",
            scaling_target=self.scalable_target,
            adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
            metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
            cooldown=scale_out_cooldown,
        )
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
