"""cdk-nag (AwsSolutions) acknowledgements, each on the narrowest construct, with its reason.

cdk-nag 3 reads acknowledgements recorded through `Validations.of(scope).acknowledge(...)`
on the resource or any of its ancestors. Every finding not listed here fails synthesis.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import IConstruct
from taskqueue.stores.payloads import PARAMS_PREFIX, RESULTS_PREFIX

ELB2 = (
    "No accessLogsBucket is configured: access logs need a bucket whose policy admits the "
    "region's Elastic Load Balancing principal, which an environment-agnostic stack cannot "
    "write, so an existing bucket is named in context. Requests, latency and 5xx are "
    "covered by CloudWatch metrics, alarms and the dashboard; the web logs every request."
)
EC23 = (
    "allowedCidrs admits anywhere (the default): the internet-facing ALB accepts requests "
    "from any address on its listener ports (80, and 443 with a certificate) only; the tasks "
    "behind it accept traffic only from the ALB's security group. Narrow it with "
    "-c 'allowedCidrs=[...]'."
)
ECS2 = (
    "Only non-secret configuration (queue URL/name, table name, time limits, log level) is "
    "passed as environment variables, named as the runtime Settings fields; secrets (the "
    "secrets context) reach the containers as ECS secrets, never as environment."
)
IAM5_EXECUTION_ROLE = (
    "ecr:GetAuthorizationToken does not support resource-level permissions and needs "
    "Resource '*'; every other statement of the execution role names its repository or "
    "log group."
)
IAM5_TASK_PROTECTION = (
    "ecs:UpdateTaskProtection and ecs:GetTaskProtection act on one task, whose id exists only "
    "at run time: the statement names the tasks of this stack's cluster (task/<cluster>/*), "
    "the tightest ARN a template can give; only the worker task roles have it."
)
SQS3_SCHEDULE_DLQ = (
    "This queue is a dead-letter queue: EventBridge Scheduler's (the schedules' "
    "DeadLetterConfig), which cdk-nag does not read; an SQS redrive into another queue would "
    "hide undeliverable fires from the alarm on it."
)
S1_PAYLOADS = (
    "The payload bucket holds transient task data read and written only by the stack's task "
    "roles (their own prefixes); server access logs would log every task's large message and "
    "result a second time. The bucket policy refuses requests without TLS."
)
IAM5_PAYLOAD_OBJECTS = (
    "A payload object's key holds its task id and a random name known only at run time: the "
    "statement names the objects under one prefix of the stack's payload bucket (params/ or "
    "results/), each role only the actions it needs there."
)
ECS4_DEV = (
    "containerInsights false (dev's, to idle cheaper): Container Insights' per-service "
    "metrics are billed as custom metrics. The workers scale by steps on their queue's SQS "
    "backlog, the backlog-without-workers alarm reads the free AWS/ECS CPU metric's samples, "
    "and the dashboard shows the services' CPU; prod keeps Container Insights on."
)
DDB3_DEV = (
    "Dev only: the table holds transient task results that expire through TTL; "
    "point-in-time recovery is enabled in prod."
)


def _ack(scope: IConstruct, rule_id: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def tasks_of_cluster_rule(cluster: ecs.Cluster) -> str:
    """The IAM5 finding of a statement on `cluster.arn_for_tasks("*")` (it names the cluster)."""
    cfn_cluster = cluster.node.default_child
    assert isinstance(cfn_cluster, CfnElement)
    logical_id = Stack.of(cluster).get_logical_id(cfn_cluster)
    arn = f"arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/<{logical_id}>/*"
    return f"AwsSolutions-IAM5[Resource::{arn}]"


def objects_rule(bucket: s3.Bucket, prefix: str) -> str:
    """The IAM5 finding of a statement on the objects under `prefix` of `bucket`."""
    cfn_bucket = bucket.node.default_child
    assert isinstance(cfn_bucket, CfnElement)
    logical_id = Stack.of(bucket).get_logical_id(cfn_bucket)
    return f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{prefix}*]"


def acknowledge_findings(
    *,
    load_balancer: elbv2.ApplicationLoadBalancer,
    task_definitions: Sequence[ecs.TaskDefinition],
    task_protection: tuple[Sequence[iam.IRole], ecs.Cluster],
    table: dynamodb.ITable,
    access_logs: bool,
    point_in_time_recovery: bool,
    open_to_anyone: bool = True,
    schedule_dlq: IConstruct | None = None,
    cluster_without_insights: ecs.Cluster | None = None,
    payload_bucket: tuple[s3.Bucket, Sequence[iam.IRole]] | None = None,
) -> None:
    """Acknowledge the AwsSolutions findings this design accepts on purpose."""
    if not access_logs:
        _ack(load_balancer, "AwsSolutions-ELB2", ELB2)
    if open_to_anyone:
        for security_group in load_balancer.connections.security_groups:
            _ack(security_group, "AwsSolutions-EC23", EC23)

    for task_definition in task_definitions:
        _ack(task_definition, "AwsSolutions-ECS2", ECS2)
        execution_role = task_definition.execution_role
        if execution_role is not None:
            _ack(execution_role, "AwsSolutions-IAM5[Resource::*]", IAM5_EXECUTION_ROLE)

    roles, cluster = task_protection
    for role in roles:
        _ack(role, tasks_of_cluster_rule(cluster), IAM5_TASK_PROTECTION)

    if not point_in_time_recovery:
        _ack(table, "AwsSolutions-DDB3", DDB3_DEV)

    if cluster_without_insights is not None:
        _ack(cluster_without_insights, "AwsSolutions-ECS4", ECS4_DEV)

    if schedule_dlq is not None:
        _ack(schedule_dlq, "AwsSolutions-SQS3", SQS3_SCHEDULE_DLQ)

    if payload_bucket is not None:
        bucket, users = payload_bucket
        _ack(bucket, "AwsSolutions-S1", S1_PAYLOADS)
        for role in users:
            for prefix in (PARAMS_PREFIX, RESULTS_PREFIX):
                _ack(role, objects_rule(bucket, prefix), IAM5_PAYLOAD_OBJECTS)
