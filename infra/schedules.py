"""The periodic tasks: one EventBridge Scheduler schedule per declaration
(taskqueue.catalogue.schedules).

Scheduler itself fires them: no container runs for it and nothing is a singleton. Each
schedule's SQS target sends the declaration's Celery message to its task's queue, with the fire's
scheduled time substituted into its task id (`<aws.scheduler.scheduled-time>`), so a duplicate
fire runs once through the worker's idempotency claim. A delivery SQS refuses is retried, then
goes to this construct's own dead-letter queue, whose alarm notifies the alarm topic.

CfnSchedule, not the `aws_scheduler` L2: its SQS target grants `grant_send_messages` (which
adds sqs:GetQueueAttributes and sqs:GetQueueUrl) to the role; this role may send, and only
to the queues of the schedules' tasks and the schedules' DLQ.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from taskqueue.catalogue.schedules import Schedule

from infra.metrics import dead_letter_alarm
from infra.task_queue import private_queue

SCHEDULER = "scheduler.amazonaws.com"
# A fire SQS refuses (throttling, the queue being replaced) is retried this often, for at most
# this long; then it goes to the DLQ. A later fire is a new task: an old one is not worth more.
RETRY_ATTEMPTS = 5
MAXIMUM_EVENT_AGE = Duration.minutes(15)


@dataclass(frozen=True)
class ScheduleTarget:
    """Where the fires of a queue's tasks go: its SQS queue, and the Celery queue name the
    message is routed by (`Settings.queue_address(queue).name`)."""

    queue: sqs.IQueue
    routing_key: str


class Schedules(Construct):
    """A schedule group named after the stack, one schedule per declaration (those named in
    `paused` created DISABLED) sending to the queue of its task (`targets`, by the
    catalogue's queue name), their role, and the dead-letter queue of undeliverable fires
    with its alarm."""

    group: scheduler.CfnScheduleGroup
    role: iam.Role
    dead_letter_queue: sqs.Queue
    dlq_alarm: cloudwatch.Alarm
    schedules: dict[str, scheduler.CfnSchedule]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        declarations: Sequence[Schedule],
        paused: Collection[str] = (),
        targets: Mapping[str, ScheduleTarget],
        group_name: str,
        dlq_retention: Duration,
        alarm_topic: sns.ITopic | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=group_name)
        self.dead_letter_queue = private_queue(
            self, "DeadLetterQueue", retention_period=dlq_retention
        )
        # Scheduler assumes the role for this account's schedules only (confused deputy).
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                SCHEDULER, conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description="EventBridge Scheduler: send the periodic tasks to the task queue",
        )
        used = {declared.spec.queue: targets[declared.spec.queue] for declared in declarations}
        for queue in (*(target.queue for target in used.values()), self.dead_letter_queue):
            self.role.add_to_principal_policy(
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn])
            )

        self.schedules = {}
        for declared in declarations:
            target = used[declared.spec.queue]
            cfn = scheduler.CfnSchedule(
                self,
                f"Schedule-{declared.name}",
                name=declared.name,
                group_name=self.group.ref,
                description=declared.description[:512],
                schedule_expression=declared.expression,
                schedule_expression_timezone=declared.timezone,
                # Each fire at its time: the task id is made of the scheduled time.
                flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
                # A paused one is deployed and never fires until resumed.
                state="DISABLED" if declared.name in paused else "ENABLED",
                target=scheduler.CfnSchedule.TargetProperty(
                    arn=target.queue.queue_arn,
                    role_arn=self.role.role_arn,
                    input=declared.message_template(target.routing_key),
                    retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                        maximum_retry_attempts=RETRY_ATTEMPTS,
                        maximum_event_age_in_seconds=int(MAXIMUM_EVENT_AGE.to_seconds()),
                    ),
                    dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                        arn=self.dead_letter_queue.queue_arn
                    ),
                ),
            )
            # The role's policy first: a schedule whose role may not send yet fails its fires.
            cfn.node.add_dependency(self.role)
            self.schedules[declared.name] = cfn

        self.dlq_alarm = dead_letter_alarm(
            self,
            "DeadLetterFires",
            queue=self.dead_letter_queue,
            description="A periodic task's fire could not be delivered to the task queue.",
        )
        if alarm_topic is not None:
            self.dlq_alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
            self.dlq_alarm.add_ok_action(cw_actions.SnsAction(alarm_topic))
