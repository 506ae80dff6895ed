"""What was deployed: the ECS services and their task definitions, as the local ECS API has them.

moto's ECS keeps most of a task definition (containers, environment resolved to the deployed
queue, DLQ and table, mount points, health checks, stop timeouts) but drops some fields
(`runtimePlatform`, `taskRoleArn`, `executionRoleArn`, `requiresCompatibilities`, `cpu`) and
reports `networkMode: bridge` for an awsvpc task. Those are taken from the synthesized template
(cdk.out), joined by logical id: the deployed service's name is ``<stack>-<LogicalId>-<suffix>``
(CloudFormation's physical name), its template resource names its task definition by ``Ref``.
Each field says where it came from (`Service.sources`). A role ARN in the template is a
``Fn::GetAtt`` of a role resource: it resolves to the role CloudFormation created for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEPLOYED = "deployed ECS API"

# Task definition fields moto drops or reports with its own default; the template's value wins.
TEMPLATE_FIELDS = (
    "RuntimePlatform",
    "TaskRoleArn",
    "ExecutionRoleArn",
    "NetworkMode",
    "RequiresCompatibilities",
    "Cpu",
    "Memory",
)


class NotDeployed(RuntimeError):
    """The local endpoint does not hold what the template describes."""


@dataclass(frozen=True)
class Service:
    """One deployed ECS service and the task definition its tasks run."""

    name: str
    logical_id: str
    desired_count: int
    task_definition: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    """Task definition field -> where its value came from."""

    @property
    def short_name(self) -> str:
        """`WebService436DDF84` -> `web`: the name of the service's containers here."""
        return str(self.task_definition["containerDefinitions"][0]["name"])


def camel(value: Any) -> Any:
    """A CloudFormation property (PascalCase keys) in the ECS API's spelling (camelCase)."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camel(item) for item in value]
    return value


def load_template(cdk_out: Path, stack_name: str) -> dict[str, Any]:
    """The synthesized template of `stack_name`."""
    path = cdk_out / f"{stack_name}.template.json"
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return template


def logical_id_of(physical_name: str, stack_name: str) -> str:
    """`taskqueue-dev-WorkerService3F60922A-OK0WQK3EXK34` -> `WorkerService3F60922A`."""
    prefix = f"{stack_name}-"
    if not physical_name.startswith(prefix) or "-" not in physical_name[len(prefix) :]:
        raise NotDeployed(f"{physical_name} is not a resource of stack {stack_name}")
    return physical_name[len(prefix) :].rsplit("-", 1)[0]


def resolve(value: Any, stack_name: str, iam: Any) -> Any:
    """A template value with the references this runner needs resolved (role ARNs)."""
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute != "Arn":
            raise NotDeployed(f"cannot resolve Fn::GetAtt {logical_id}.{attribute}")
        prefix = f"{stack_name}-{logical_id}-"
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if role["RoleName"].startswith(prefix):
                    return role["Arn"]
        raise NotDeployed(f"no deployed IAM role for {logical_id}")
    if isinstance(value, dict) and any(key.startswith("Fn::") or key == "Ref" for key in value):
        raise NotDeployed(f"cannot resolve {json.dumps(value)}")
    return value


def complete(
    task_definition: dict[str, Any],
    template_resource: dict[str, Any],
    logical_id: str,
    *,
    stack_name: str,
    iam: Any,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The deployed task definition with what moto dropped taken from the template."""
    merged = dict(task_definition)
    sources = {key: DEPLOYED for key in task_definition}
    properties = template_resource["Properties"]
    for name in TEMPLATE_FIELDS:
        if name not in properties:
            continue
        key = name[:1].lower() + name[1:]
        value = camel(resolve(properties[name], stack_name, iam))
        if merged.get(key) != value:
            merged[key] = value
            sources[key] = f"template {logical_id}"
    return merged, sources


# CloudFormation starts a service that has no DesiredCount with one task; registering its
# scalable target then moves the count into [MinCapacity, MaxCapacity] (Application Auto
# Scaling's RegisterScalableTarget). moto does neither (it reports 0 and skips the target):
# the template's bounds stand in.
CLOUDFORMATION_DEFAULT_COUNT = 1


def initial_count(
    described: dict[str, Any], resources: dict[str, Any], logical_id: str
) -> tuple[int, str]:
    """The tasks a first deploy runs for the service, and where that number came from."""
    if "DesiredCount" in resources[logical_id]["Properties"]:
        return int(described["desiredCount"]), DEPLOYED
    for target_id, target in resources.items():
        properties = target.get("Properties", {})
        if target.get("Type") != "AWS::ApplicationAutoScaling::ScalableTarget":
            continue
        if logical_id not in json.dumps(properties.get("ResourceId")):
            continue
        low, high = int(properties["MinCapacity"]), int(properties["MaxCapacity"])
        count = min(max(CLOUDFORMATION_DEFAULT_COUNT, low), high)
        return count, f"template {target_id} (1 task clamped to {low}..{high})"
    return CLOUDFORMATION_DEFAULT_COUNT, "CloudFormation's default (no DesiredCount)"


def deployed_services(
    ecs: Any, iam: Any, template: dict[str, Any], stack_name: str
) -> list[Service]:
    """Every ECS service of the stack, as deployed, completed from the template."""
    resources: dict[str, Any] = template["Resources"]
    services: list[Service] = []
    for cluster in ecs.list_clusters()["clusterArns"]:
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        if not arns:
            continue
        for described in ecs.describe_services(cluster=cluster, services=arns)["services"]:
            logical_id = logical_id_of(described["serviceName"], stack_name)
            resource = resources.get(logical_id, {})
            if resource.get("Type") != "AWS::ECS::Service":
                raise NotDeployed(f"{described['serviceName']}: no AWS::ECS::Service {logical_id}")
            task_logical_id = resource["Properties"]["TaskDefinition"]["Ref"]
            deployed = ecs.describe_task_definition(taskDefinition=described["taskDefinition"])
            task_definition, sources = complete(
                deployed["taskDefinition"],
                resources[task_logical_id],
                task_logical_id,
                stack_name=stack_name,
                iam=iam,
            )
            desired_count, sources["desiredCount"] = initial_count(described, resources, logical_id)
            services.append(
                Service(
                    name=described["serviceName"],
                    logical_id=logical_id,
                    desired_count=desired_count,
                    task_definition=task_definition,
                    sources=sources,
                )
            )
    if not services:
        raise NotDeployed(f"the local ECS API has no service of stack {stack_name}")
    return sorted(services, key=lambda service: service.short_name)
