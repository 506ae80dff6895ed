"""The ECS cluster both services run in, and the one CPU architecture of their tasks."""

from __future__ import annotations

import jsii
from aws_cdk import AspectPriority, Aspects, IAspect, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from constructs import Construct, IConstruct

from infra.config import CpuArchitecture

# One context value sets both: an image built for another architecture than the task
# definition's fails every task with `exec format error` (aws-cdk issue #12472).
_PLATFORMS: dict[CpuArchitecture, tuple[ecs.CpuArchitecture, ecr_assets.Platform]] = {
    "X86_64": (ecs.CpuArchitecture.X86_64, ecr_assets.Platform.LINUX_AMD64),
    "ARM64": (ecs.CpuArchitecture.ARM64, ecr_assets.Platform.LINUX_ARM64),
}


def task_platform(architecture: CpuArchitecture) -> ecs.RuntimePlatform:
    """The task definitions' runtime platform: Linux on `architecture`."""
    return ecs.RuntimePlatform(
        cpu_architecture=_PLATFORMS[architecture][0],
        operating_system_family=ecs.OperatingSystemFamily.LINUX,
    )


def image_platform(architecture: CpuArchitecture) -> ecr_assets.Platform:
    """The platform the image assets are built for (`docker build --platform`)."""
    return _PLATFORMS[architecture][1]


class ServiceCluster(Construct):
    """Fargate cluster, with Container Insights unless `container_insights` is false (its
    RunningTaskCount drives the workers' target tracking; without it they scale by steps).

    With `fargate_capacity_providers` the cluster offers FARGATE and FARGATE_SPOT, so a
    service can name them in its capacity provider strategy; each such service of the
    stack is created after the cluster offers them (`ServicesAfterCapacityProviders`).
    """

    cluster: ecs.Cluster

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        fargate_capacity_providers: bool = False,
        container_insights: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=(
                ecs.ContainerInsights.ENABLED
                if container_insights
                else ecs.ContainerInsights.DISABLED
            ),
            enable_fargate_capacity_providers=fargate_capacity_providers,
        )
        if fargate_capacity_providers:
            # After CDK's own aspect, which makes the association at synthesis.
            Aspects.of(Stack.of(self)).add(
                ServicesAfterCapacityProviders(self.cluster), priority=AspectPriority.DEFAULT
            )


@jsii.implements(IAspect)
class ServicesAfterCapacityProviders:
    """Every service of `cluster` with a capacity provider strategy depends on the cluster's
    capacity provider association.

    A strategy may only name providers associated with the service's cluster, and nothing
    else orders the two resources: CloudFormation may create the service first, which then
    fails with "capacity provider strategy cannot contain a capacity provider that is not
    associated with the cluster" (aws/containers-roadmap#631). CDK makes the association
    in an aspect of its own, at synthesis, so this is an aspect too, run after it.
    """

    def __init__(self, cluster: ecs.Cluster) -> None:
        self._cluster = cluster

    def visit(self, node: IConstruct) -> None:
        """Add the dependency to each service of the cluster that names providers."""
        if not (
            isinstance(node, ecs.CfnService)
            and node.capacity_provider_strategy
            and node.cluster == self._cluster.cluster_name
        ):
            return
        for child in self._cluster.node.children:
            if isinstance(child, ecs.CfnClusterCapacityProviderAssociations):
                node.add_dependency(child)
