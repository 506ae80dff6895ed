"""What a synthesized CloudFormation template makes, as the facts a cost needs: each ECS
service's task size and minimum count, the load balancers, addresses, endpoints, alarms."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Resource = Mapping[str, Any]

SPOT = "FARGATE_SPOT"


class TemplateError(ValueError):
    """The template holds something this tool cannot read."""


@dataclass(frozen=True)
class Template:
    """A synthesized template (its JSON) and where it came from."""

    name: str
    body: Mapping[str, Any]

    @property
    def resources(self) -> Mapping[str, Resource]:
        """Logical id -> resource."""
        found: Mapping[str, Resource] = self.body.get("Resources", {})
        return found

    def of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        """Logical id -> properties of every resource of `resource_type`."""
        return {
            logical_id: resource.get("Properties", {})
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type
        }

    @property
    def types(self) -> set[str]:
        """The resource types in the template."""
        return {resource["Type"] for resource in self.resources.values()}


def read(cdk_out: Path) -> Template:
    """The one stack template in a cdk.out directory (or a template file itself)."""
    if cdk_out.is_file():
        return Template(cdk_out.stem, json.loads(cdk_out.read_text()))
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    stacks = [
        artifact["properties"]["templateFile"]
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    ]
    if len(stacks) != 1:
        raise TemplateError(f"{cdk_out} holds {len(stacks)} stacks; give one template file")
    path = cdk_out / stacks[0]
    return Template(path.name.removesuffix(".template.json"), json.loads(path.read_text()))


@dataclass(frozen=True)
class Service:
    """One ECS service on Fargate, at the minimum count autoscaling keeps."""

    name: str
    """Its first container's name (web, worker, worker-reports)."""
    family: str
    """Its task definition's logical id (one family per service)."""
    vcpu: float
    memory_gb: float
    arm64: bool
    public_ip: bool
    minimum: int
    on_demand_base: int
    spot_share: float
    """The share of tasks beyond the base that run on Fargate Spot."""

    @property
    def spot_tasks(self) -> float:
        """Tasks on Fargate Spot at the minimum count."""
        return max(0, self.minimum - self.on_demand_base) * self.spot_share

    @property
    def on_demand_tasks(self) -> float:
        """Tasks on regular Fargate at the minimum count."""
        return self.minimum - self.spot_tasks


def _ref(value: Any) -> str:
    if not isinstance(value, Mapping) or "Ref" not in value:
        raise TemplateError(f"expected a Ref, got {value!r}")
    return str(value["Ref"])


def _minimum_counts(template: Template) -> dict[str, int]:
    """Service logical id -> MinCapacity of the scalable target of its desired count."""
    counts = {}
    for target in template.of_type("AWS::ApplicationAutoScaling::ScalableTarget").values():
        if target.get("ScalableDimension") != "ecs:service:DesiredCount":
            continue
        for part in target["ResourceId"]["Fn::Join"][1]:
            if isinstance(part, Mapping) and "Fn::GetAtt" in part:
                counts[part["Fn::GetAtt"][0]] = int(target["MinCapacity"])
    return counts


def _capacity(service: Mapping[str, Any]) -> tuple[int, float]:
    """(on-demand base, Spot's share beyond it) of a service's capacity provider strategy."""
    strategy = service.get("CapacityProviderStrategy")
    if not strategy:
        return 0, 0.0
    weights = {item["CapacityProvider"]: float(item.get("Weight", 0)) for item in strategy}
    base = sum(int(item.get("Base", 0)) for item in strategy if item["CapacityProvider"] != SPOT)
    total = sum(weights.values())
    return base, (weights.get(SPOT, 0.0) / total if total else 0.0)


def services(template: Template) -> list[Service]:
    """Every ECS service, sized from its task definition, at its minimum count."""
    task_definitions = template.of_type("AWS::ECS::TaskDefinition")
    minimums = _minimum_counts(template)
    found = []
    for logical_id, service in template.of_type("AWS::ECS::Service").items():
        family = _ref(service["TaskDefinition"])
        definition = task_definitions[family]
        if "FARGATE" not in definition.get("RequiresCompatibilities", []):
            raise TemplateError(f"{logical_id} does not run on Fargate: not priced")
        network = service.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
        base, spot_share = _capacity(service)
        found.append(
            Service(
                name=definition["ContainerDefinitions"][0]["Name"],
                family=family,
                vcpu=int(definition["Cpu"]) / 1024,
                memory_gb=int(definition["Memory"]) / 1024,
                arm64=definition.get("RuntimePlatform", {}).get("CpuArchitecture") == "ARM64",
                public_ip=network.get("AssignPublicIp") == "ENABLED",
                minimum=minimums.get(logical_id, int(service.get("DesiredCount", 1))),
                on_demand_base=base,
                spot_share=spot_share,
            )
        )
    return found


@dataclass(frozen=True)
class LoadBalancer:
    """An application load balancer: its AZs (one node, one address each at idle)."""

    azs: int
    internet_facing: bool
    reserved_lcu: float
    health_checks_per_hour: float
    """Health checks each node sends each target an hour."""


def load_balancers(template: Template) -> list[LoadBalancer]:
    """Every load balancer, with the health-check rate of its target groups."""
    interval = min(
        (
            float(group.get("HealthCheckIntervalSeconds", 30))
            for group in template.of_type("AWS::ElasticLoadBalancingV2::TargetGroup").values()
        ),
        default=30.0,
    )
    found = []
    for logical_id, balancer in template.of_type(
        "AWS::ElasticLoadBalancingV2::LoadBalancer"
    ).items():
        if balancer.get("Type", "application") != "application":
            raise TemplateError(f"{logical_id} is not an application load balancer: not priced")
        reserved = balancer.get("MinimumLoadBalancerCapacity", {}).get("CapacityUnits", 0)
        found.append(
            LoadBalancer(
                azs=len(balancer.get("Subnets", balancer.get("SubnetMappings", []))),
                internet_facing=balancer.get("Scheme", "internet-facing") == "internet-facing",
                reserved_lcu=float(reserved),
                health_checks_per_hour=3600 / interval,
            )
        )
    return found


def container_checks_per_hour(template: Template, container: str) -> float:
    """How often a container's own health check runs an hour (0 without one)."""
    for definition in template.of_type("AWS::ECS::TaskDefinition").values():
        for each in definition["ContainerDefinitions"]:
            if each["Name"] == container and "HealthCheck" in each:
                return 3600 / float(each["HealthCheck"].get("Interval", 30))
    return 0.0


def container_env(template: Template, container: str) -> dict[str, str]:
    """A container's plain environment variables (the ones with a text value)."""
    for definition in template.of_type("AWS::ECS::TaskDefinition").values():
        for each in definition["ContainerDefinitions"]:
            if each["Name"] == container:
                return {
                    item["Name"]: item["Value"]
                    for item in each.get("Environment", [])
                    if isinstance(item["Value"], str)
                }
    return {}


def alarm_metrics(alarm: Mapping[str, Any]) -> int:
    """The metrics an alarm is billed for: one, or each metric of its metric math."""
    if float(alarm.get("Period", 60)) < 60:
        raise TemplateError("a high-resolution alarm (Period under 60 s) is not priced")
    if "MetricName" in alarm:
        return 1
    return sum(1 for metric in alarm.get("Metrics", []) if "MetricStat" in metric)


def target_tracking_alarms(template: Template) -> Iterator[int]:
    """The metrics of each alarm Application Auto Scaling makes for a target-tracking policy
    (two per policy, high and low; not in the template but billed)."""
    for policy in template.of_type("AWS::ApplicationAutoScaling::ScalingPolicy").values():
        config = policy.get("TargetTrackingScalingPolicyConfiguration")
        if not config:
            continue
        custom = config.get("CustomizedMetricSpecification", {})
        metrics = sum(1 for metric in custom.get("Metrics", []) if "MetricStat" in metric)
        yield from (metrics or 1, metrics or 1)


def interface_endpoint_azs(template: Template) -> int:
    """Interface endpoints times the AZs each is in (each endpoint-AZ is billed an hour)."""
    return sum(
        len(endpoint.get("SubnetIds", []))
        for endpoint in template.of_type("AWS::EC2::VPCEndpoint").values()
        if endpoint.get("VpcEndpointType") == "Interface"
    )


def insights_enabled(template: Template) -> bool:
    """Whether a cluster has Container Insights (standard) on; enhanced is refused."""
    enabled = False
    for cluster in template.of_type("AWS::ECS::Cluster").values():
        for setting in cluster.get("ClusterSettings", []):
            if setting["Name"] != "containerInsights":
                continue
            if setting["Value"] == "enhanced":
                raise TemplateError("Container Insights with enhanced observability is not priced")
            enabled = enabled or setting["Value"] == "enabled"
    return enabled


_CRON_STEP = re.compile(r"^(?:\*|\d+)/(\d+)$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_PER_DAY = {"minute": 1440, "hour": 24, "day": 1}


def fires_per_month(expression: str, hours_per_month: float) -> float:
    """How often a schedule expression fires a month: rate(), or a cron with a fixed or
    stepped minute over every hour; other forms are refused by name."""
    days = hours_per_month / 24
    if rate := _RATE.match(expression):
        count, unit = int(rate[1]), rate[2].rstrip("s")
        return days * _PER_DAY[unit] / count
    if expression.startswith("cron(") and expression.endswith(")"):
        minute, hour, *rest = expression[5:-1].split()
        if hour == "*" and all(field in "*?" for field in rest):
            if step := _CRON_STEP.match(minute):
                return days * 24 * 60 / int(step[1])
            if minute.isdigit():
                return days * 24
    raise TemplateError(f"schedule expression {expression!r} is not priced")


def enabled_schedules(template: Template) -> list[str]:
    """The expressions of the schedules that fire (State ENABLED, CloudFormation's default)."""
    return [
        schedule["ScheduleExpression"]
        for schedule in template.of_type("AWS::Scheduler::Schedule").values()
        if schedule.get("State", "ENABLED") == "ENABLED"
    ]
