"""Every integration in the synthesized template is reachable (tests.infra.reachability).

Each variant is walked whole: every alarm action, rule target, schedule, redrive, key use,
secret and task network path it holds is checked, and the walk must have found each kind
the variant has, so it cannot pass by matching nothing. The walk itself is shown to fail
on the breakages it exists for (be8f71f's alarm topic, isolated tasks with secrets and no
endpoint, a key that leaves out EventBridge, Spot before its providers).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.infra.conftest import Synth
from tests.infra.reachability import (
    ALARM_TO_SCALING,
    ALARM_TO_TOPIC,
    KEY_USE,
    LOAD_BALANCER_TO_TASKS,
    QUEUE_TO_DLQ,
    RULE_TO_TARGET,
    SCHEDULE_TO_QUEUE,
    SERVICE_TO_CAPACITY,
    TASK_TO_API,
    TASK_TO_SECRET,
    WEB_ACL_TO_LOAD_BALANCER,
    Integration,
    integrations,
)

pytestmark = pytest.mark.timeout(300)

EVERY_STACK = {
    ALARM_TO_TOPIC,
    ALARM_TO_SCALING,
    RULE_TO_TARGET,
    SCHEDULE_TO_QUEUE,
    QUEUE_TO_DLQ,
    TASK_TO_API,
    LOAD_BALANCER_TO_TASKS,
}
OWN_TOPIC = {KEY_USE}
"""The stack's alarm topic is encrypted with its own key, which CloudWatch and EventBridge use."""
DEV_SPOT = {SERVICE_TO_CAPACITY}
"""dev's web runs on Fargate Spot (webCapacity): its service names the capacity providers."""
KINDS = {
    "dev": EVERY_STACK | OWN_TOPIC | DEV_SPOT,
    "prod": EVERY_STACK | OWN_TOPIC,
    "prod_spot_email": EVERY_STACK | OWN_TOPIC | {SERVICE_TO_CAPACITY},
    "prod_endpoints": EVERY_STACK,  # an existing alarm topic: its key is not the stack's
    "prod_endpoints_secrets": EVERY_STACK | OWN_TOPIC | {TASK_TO_SECRET},
    "dev_arm64": EVERY_STACK | OWN_TOPIC | DEV_SPOT,
    "dev_edge": EVERY_STACK | OWN_TOPIC | DEV_SPOT | {TASK_TO_SECRET, WEB_ACL_TO_LOAD_BALANCER},
}
"""The kinds of integration each variant holds: dev, prod, Spot, e-mail, an existing topic,
endpoints + secrets, ARM64, WAF (with HTTPS and secrets)."""


def problems(found: list[Integration]) -> list[str]:
    return [f"{i.kind}: {i.name}: {problem}" for i in found for problem in i.problems]


@pytest.mark.parametrize("variant", sorted(KINDS))
def test_every_integration_of_the_template_is_reachable(
    synth_variant: Callable[[str], Synth], variant: str
) -> None:
    synth = synth_variant(variant)
    found = integrations(synth.json)
    assert problems(found) == []
    counts = Counter(i.kind for i in found)
    assert set(counts) == KINDS[variant], counts
    # Every alarm with an action is walked: each notifies a topic or runs a scaling policy.
    alarms = [
        alarm
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("AlarmActions")
    ]
    walked = {i.name.split(" → ")[0] for i in found if i.kind in (ALARM_TO_TOPIC, ALARM_TO_SCALING)}
    assert len(walked) == len(alarms) > 0
    # What the walk cannot check is only what the context names outside the stack.
    config = synth.stack.config
    supplied = [config.alarm_topic_arn] if config.alarm_topic_arn else []
    supplied += [source.resource_arn for source in config.secrets.values()]
    for integration in found:
        for requirement in integration.outside:
            assert requirement.split(": ")[0] in supplied, requirement


def test_each_task_reaches_every_service_it_calls(
    synth_variant: Callable[[str], Synth],
) -> None:
    """Derived from the template: ECR and S3 for the image, Logs, SQS and DynamoDB for the
    task role's grants, and the secret stores; the ECS agent's task-protection calls are
    Fargate's own, outside the task's subnets."""
    synth = synth_variant("prod_endpoints_secrets")
    paths = {i.name for i in integrations(synth.json) if i.kind == TASK_TO_API}
    services = {name.split(" → ")[1] for name in paths}
    assert services == {
        "ecr.api",
        "ecr.dkr",
        "s3",
        "logs",
        "sqs",
        "dynamodb",
        "secretsmanager",
        "ssm",
    }


def broken(synth: Synth, change: Callable[[dict[str, Any]], None]) -> list[str]:
    """The problems the walk finds in a copy of the template after `change`."""
    data = copy.deepcopy(synth.json)
    change(data)
    return problems(integrations(data))


def resources_of(data: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in data["Resources"].values() if r["Type"] == resource_type]


def without_service(
    resource_type: str, document_key: str, service: str
) -> Callable[[dict[str, Any]], None]:
    """A change that drops the statements naming `service` from the one resource's policy."""

    def change(data: dict[str, Any]) -> None:
        (resource,) = resources_of(data, resource_type)
        document = resource["Properties"][document_key]
        document["Statement"] = [
            s for s in document["Statement"] if s.get("Principal") != {"Service": service}
        ]

    return change


def test_the_walk_fails_on_be8f71f_alarm_topic(dev: Synth) -> None:
    """be8f71f's topic policy: TLS-only and EventBridge, no CloudWatch."""
    drop_cloudwatch = without_service(
        "AWS::SNS::TopicPolicy", "PolicyDocument", "cloudwatch.amazonaws.com"
    )
    found = broken(dev, drop_cloudwatch)
    notifying = [
        a
        for a in dev.resources("AWS::CloudWatch::Alarm").values()
        if "OKActions" in a["Properties"]
    ]
    assert len(found) == len(notifying) > 0
    assert all("does not let cloudwatch.amazonaws.com sns:Publish" in p for p in found)


def test_the_walk_fails_on_isolated_tasks_without_a_secret_store_endpoint(
    prod_endpoints_secrets: Synth,
) -> None:
    def drop_secrets_manager(data: dict[str, Any]) -> None:
        data["Resources"] = {
            key: resource
            for key, resource in data["Resources"].items()
            if ".secretsmanager" not in json.dumps(resource["Properties"].get("ServiceName", ""))
        }

    found = broken(prod_endpoints_secrets, drop_secrets_manager)
    # Every service (the web and each queue's worker), both subnets.
    assert len(found) == 2 * (1 + len(prod_endpoints_secrets.stack.queues))
    assert all("no secretsmanager endpoint" in problem for problem in found)


def test_the_walk_fails_on_a_topic_key_eventbridge_may_not_use(dev: Synth) -> None:
    found = broken(dev, without_service("AWS::KMS::Key", "KeyPolicy", "events.amazonaws.com"))
    assert found
    assert all("does not let events.amazonaws.com kms:" in problem for problem in found)


def test_the_walk_fails_on_spot_before_its_providers(prod_spot_email: Synth) -> None:
    def no_dependency(data: dict[str, Any]) -> None:
        for service in resources_of(data, "AWS::ECS::Service"):
            service["DependsOn"] = [
                d for d in service.get("DependsOn", []) if not d.startswith("Cluster")
            ]

    # Each queue's worker service runs on Spot.
    problems = broken(prod_spot_email, no_dependency)
    assert len(problems) == len(prod_spot_email.stack.queues)
    assert all("aws/containers-roadmap#631" in problem for problem in problems)


def test_the_walk_refuses_what_it_does_not_know(dev: Synth) -> None:
    """A new kind of integration is a problem to teach the walk, never a pass."""

    def lambda_action(data: dict[str, Any]) -> None:
        alarm = resources_of(data, "AWS::CloudWatch::Alarm")[0]
        alarm["Properties"]["AlarmActions"] = [
            "arn:aws:lambda:us-east-1:123456789012:function:page-someone"
        ]

    (problem,) = broken(dev, lambda_action)
    assert "an alarm action the walk does not know" in problem


def test_the_walk_refuses_a_key_no_integration_it_knows_uses(dev: Synth) -> None:
    def another_key(data: dict[str, Any]) -> None:
        (key,) = resources_of(data, "AWS::KMS::Key")
        data["Resources"]["LogsKey"] = copy.deepcopy(key)

    (problem,) = broken(dev, another_key)
    assert "LogsKey is used by no integration the walk knows" in problem
