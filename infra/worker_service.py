"""The Celery worker: a Fargate service with no inbound traffic at all."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import TaskSize, WorkerCapacity
from infra.read_only import read_only_root

CONTAINER_NAME = "worker"
"""The default queue's worker container; another queue's is named after it (infra.stack)."""
HEALTH_CHECK_COMMAND = ["CMD", "worker-healthcheck"]
SPOT_WEIGHT = 4
"""With FARGATE_SPOT: beyond the on-demand base, 4 of every 5 worker tasks run on Spot."""


class WorkerService(Construct):
    """Fargate service running the worker image.

    ECS sends SIGTERM, waits ``stop_timeout`` (120 s), then SIGKILL: the worker's soft
    shutdown window (`WORKER_SOFT_SHUTDOWN_TIMEOUT`) fits inside it. The service sets no
    desired count: autoscaling (`WorkerAutoscaling`) owns it.

    With `capacity` FARGATE_SPOT, the first `on_demand_base` tasks run on regular Fargate
    and 4 of every 5 beyond them on Fargate Spot. Spot stops a task with SIGTERM and two
    minutes' notice: the same stop as a deploy's, which the soft shutdown fits (the cluster
    must enable the Fargate capacity providers).
    """

    service: ecs.FargateService
    task_definition: ecs.FargateTaskDefinition
    container: ecs.ContainerDefinition
    task_role: iam.Role
    security_group: ec2.SecurityGroup

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        vpc: ec2.IVpc,
        image: ecs.ContainerImage,
        container_name: str = CONTAINER_NAME,
        environment: Mapping[str, str],
        log_group: logs.ILogGroup,
        size: TaskSize,
        stop_timeout: Duration,
        runtime_platform: ecs.RuntimePlatform,
        capacity: WorkerCapacity = "FARGATE",
        on_demand_base: int = 0,
        task_subnets: ec2.SubnetSelection,
        assign_public_ip: bool,
        secrets: Mapping[str, ecs.Secret] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Worker tasks: consume the task queue, write the results table",
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=size.cpu,
            memory_limit_mib=size.memory_mib,
            task_role=self.task_role,
            runtime_platform=runtime_platform,
        )
        self.container = self.task_definition.add_container(
            "Worker",
            container_name=container_name,
            image=image,
            environment=dict(environment),
            secrets=dict(secrets or {}),
            # One log group for every worker service, each its own stream prefix.
            logging=ecs.LogDrivers.aws_logs(stream_prefix=container_name, log_group=log_group),
            stop_timeout=stop_timeout,
            essential=True,
            health_check=ecs.HealthCheck(
                command=HEALTH_CHECK_COMMAND,
                interval=Duration.seconds(30),
                timeout=Duration.seconds(10),
                retries=3,
                start_period=Duration.seconds(60),
            ),
        )
        read_only_root(self.task_definition, self.container)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Celery workers: no inbound; HTTPS out to SQS, DynamoDB, ECR, Logs",
            allow_all_outbound=True,
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=self.task_definition,
            desired_count=None,  # autoscaling owns it
            capacity_provider_strategies=_capacity_providers(capacity, on_demand_base),
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            security_groups=[self.security_group],
            vpc_subnets=task_subnets,
            assign_public_ip=assign_public_ip,
            enable_ecs_managed_tags=True,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )


def _capacity_providers(
    capacity: WorkerCapacity, on_demand_base: int
) -> list[ecs.CapacityProviderStrategy] | None:
    """None (the FARGATE launch type), or `on_demand_base` tasks on FARGATE and the rest
    shared 1 : `SPOT_WEIGHT` between FARGATE and FARGATE_SPOT."""
    if capacity == "FARGATE":
        return None
    # Not weight 0 on FARGATE: the ECS API reference says a provider of weight 0 "can't be
    # used to place tasks", and whether its base is still honoured is not documented.
    return [
        ecs.CapacityProviderStrategy(capacity_provider="FARGATE", base=on_demand_base, weight=1),
        ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=SPOT_WEIGHT),
    ]
