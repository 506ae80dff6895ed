"""What a rehearsal does not rehearse: printed by `make rehearse`, listed in rehearsal/README.md.

Two parts. What moto's CloudFormation skipped in this deploy, read from its warnings in the
endpoint's log ("No Moto CloudFormation support for <type>"; "Tried to parse <type>") and
joined with the template's resources of those types, so each skipped resource is named by
its logical id. Then what the rehearsal leaves out by design (`BY_DESIGN`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

SKIPPED = re.compile(
    r"No Moto CloudFormation support for (?P<a>[A-Za-z0-9:]+)"
    r"|Tried to parse (?P<b>[A-Za-z0-9:]+) but it's not supported"
)
UNRESOLVED_ATTRIBUTE = re.compile(r'"Fn::GetAtt" : \[ "(?P<id>\w+)" , "(?P<attribute>\w+)" \]')

BY_DESIGN = (
    "networking: the VPC, subnets, security groups, NAT/endpoints and public IPs exist in moto "
    "but nothing enforces them; each task has its own network namespace (slirp4netns) that "
    "reaches the host's loopback",
    "the load balancer: created in moto but it routes nothing; the web task's port is "
    "published on 127.0.0.1 instead, and the target group's /healthz check is not run",
    "the ECS service scheduler: tasks are started once (desired count); deployment circuit "
    "breaker, rolling deployments, replacement of stopped or unhealthy tasks and capacity "
    "providers are not rehearsed",
    "logs: the awslogs driver is not used; `podman logs <container>` has the output",
    "credentials: the task role's keys come from the local STS as environment variables, "
    "not from the ECS credentials endpoint, and are not refreshed",
    "the image registry: login, tag and push are recorded, nothing is uploaded (ECR)",
    "Fargate's platform: CPU and memory are cgroup limits of this host; no ephemeral-storage "
    "limit, no task metadata endpoint, no ECS agent endpoint (task protection)",
    "the periodic tasks: moto's CloudFormation has no EventBridge Scheduler, so no schedule "
    "fires (AWS::Scheduler::ScheduleGroup, AWS::Scheduler::Schedule); tests/e2e/"
    "test_schedules.py runs each schedule's Input from the template on a local worker instead",
)


def skipped_types(endpoint_log: str) -> set[str]:
    """Resource types moto's CloudFormation warned it does not create."""
    return {m["a"] or m["b"] for m in SKIPPED.finditer(endpoint_log)}


def skipped_resources(template: dict[str, Any], endpoint_log: str) -> dict[str, list[str]]:
    """Resource type -> the template's logical ids of that type moto did not create."""
    types = skipped_types(endpoint_log)
    found: dict[str, list[str]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in types:
            found.setdefault(resource["Type"], []).append(logical_id)
    return {kind: sorted(ids) for kind, ids in sorted(found.items())}


def unresolved_attributes(endpoint_log: str) -> list[str]:
    """`LogicalId.Attribute` that moto could not resolve (the value is missing in moto)."""
    return sorted(
        {f"{m['id']}.{m['attribute']}" for m in UNRESOLVED_ATTRIBUTE.finditer(endpoint_log)}
    )


def report(template: dict[str, Any], endpoint_log: str) -> list[str]:
    """The "not rehearsed" lines."""
    lines = ["Not rehearsed (moto's CloudFormation skipped these resources):"]
    skipped = skipped_resources(template, endpoint_log)
    lines += [f"  {kind}: {', '.join(ids)}" for kind, ids in skipped.items()] or ["  (none)"]
    attributes = unresolved_attributes(endpoint_log)
    if attributes:
        lines.append(f"  attributes moto cannot resolve: {', '.join(attributes)}")
    lines.append("Not rehearsed (by design):")
    lines += [f"  - {item}" for item in BY_DESIGN]
    return lines


def format_sources(rows: Iterable[tuple[str, str, str]]) -> list[str]:
    """`service field source` rows as aligned lines."""
    return [f"  {service:<8} {name:<26} {source}" for service, name, source in rows]
