"""`make destroy`: what the stack keeps and why, read from the synthesized template; a load
balancer with deletion protection refused with the command to run, or turned off on request
(against moto's server, as a real process)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from harness.stack import LocalStack, running
from infra.teardown import Plan, describe, plan_of
from tests.infra.conftest import Synth, only

pytestmark = pytest.mark.timeout(300)

DISABLE = "--disable-deletion-protection"


def retained(synth: Synth) -> dict[str, str]:
    """Logical id -> type of every resource CloudFormation leaves behind on delete."""
    return {
        logical_id: resource["Type"]
        for logical_id, resource in synth.json["Resources"].items()
        if resource.get("DeletionPolicy", "Delete") != "Delete"
    }


def test_destroy_names_what_prod_keeps_and_why(prod: Synth) -> None:
    """Prod keeps the results table (task results and the clients' API keys), the log
    groups and the payload bucket, each with the reason the stack recorded; nothing else, not
    the alarm topic's key (a topic's messages outlive it by seconds: nothing stays encrypted
    under it)."""
    plan = plan_of(prod.template_path.parent)
    assert plan.stack_name == "taskqueue-prod"
    kept = {item.logical_id: item for item in plan.kept}
    assert {k: item.resource_type for k, item in kept.items()} == retained(prod)
    assert sorted(item.resource_type for item in plan.kept) == [
        "AWS::DynamoDB::Table",
        "AWS::Logs::LogGroup",
        "AWS::Logs::LogGroup",
        "AWS::Logs::LogGroup",
        "AWS::S3::Bucket",
    ]
    assert all(item.why for item in plan.kept)
    text = "\n".join(describe(plan))
    for item in plan.kept:
        assert item.logical_id in text
        assert str(item.why) in text
    table_id, _ = only(prod.resources("AWS::DynamoDB::Table"))
    assert "API keys" in str(kept[table_id].why)


def test_destroy_in_dev_keeps_nothing_and_nothing_is_protected(dev: Synth) -> None:
    """Dev's payload bucket goes with the stack: make destroy empties it first (below)."""
    plan = plan_of(dev.template_path.parent)
    bucket_id, _ = only(dev.resources("AWS::S3::Bucket"))
    assert retained(dev) == {}
    assert plan == Plan(
        stack_name="taskqueue-dev",
        kept=[],
        protected_load_balancers=[],
        emptied_buckets=[bucket_id],
    )
    assert "keeps nothing" in "\n".join(describe(plan))


def test_prod_load_balancer_is_protected_and_destroy_knows(prod: Synth) -> None:
    balancer_id, balancer = only(prod.resources("AWS::ElasticLoadBalancingV2::LoadBalancer"))
    attributes = {a["Key"]: a["Value"] for a in balancer["Properties"]["LoadBalancerAttributes"]}
    assert attributes["deletion_protection.enabled"] == "true"
    assert plan_of(prod.template_path.parent).protected_load_balancers == [balancer_id]


# A stack holding only a load balancer, under prod's logical id, for moto's CloudFormation.
def load_balancer_stack(logical_id: str) -> dict[str, Any]:
    subnet = {
        "Type": "AWS::EC2::Subnet",
        "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24"},
    }
    return {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "SubnetA": {
                **subnet,
                "Properties": {**subnet["Properties"], "AvailabilityZone": "us-east-1a"},
            },
            "SubnetB": {
                **subnet,
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": "10.0.1.0/24",
                    "AvailabilityZone": "us-east-1b",
                },
            },
            logical_id: {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}]},
            },
        }
    }


@pytest.fixture(scope="module")
def deployed_prod_stack(
    prod: Synth, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalStack, str]]:
    """moto's server with a stack named like prod holding prod's load balancer."""
    balancer_id, _ = only(prod.resources("AWS::ElasticLoadBalancingV2::LoadBalancer"))
    with running(tmp_path_factory.mktemp("teardown"), worker=False, web=False) as stack:
        cloudformation = stack.client("cloudformation")
        cloudformation.create_stack(
            StackName="taskqueue-prod", TemplateBody=json.dumps(load_balancer_stack(balancer_id))
        )
        arn = cloudformation.describe_stack_resource(
            StackName="taskqueue-prod", LogicalResourceId=balancer_id
        )["StackResourceDetail"]["PhysicalResourceId"]
        yield stack, arn


@pytest.fixture
def deployed_prod(deployed_prod_stack: tuple[LocalStack, str]) -> tuple[LocalStack, str]:
    """That load balancer with deletion protection on, as prod deploys it (moto's
    CloudFormation ignores LoadBalancerAttributes: set as AWS would)."""
    stack, arn = deployed_prod_stack
    stack.client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}],
    )
    return stack, arn


def protection(stack: LocalStack, arn: str) -> str:
    attributes = stack.client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=arn)
    return {a["Key"]: a["Value"] for a in attributes["Attributes"]}["deletion_protection.enabled"]


def teardown(stack: LocalStack, synth: Synth, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.teardown", str(synth.template_path.parent), *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_destroy_refuses_a_protected_load_balancer_with_the_command_to_run(
    prod: Synth, deployed_prod: tuple[LocalStack, str]
) -> None:
    stack, arn = deployed_prod
    result = teardown(stack, prod)
    assert result.returncode == 2, result.stderr
    assert "make destroy STAGE=prod DISABLE_DELETION_PROTECTION=yes" in result.stderr
    assert (
        f"aws elbv2 modify-load-balancer-attributes --load-balancer-arn {arn} "
        "--attributes Key=deletion_protection.enabled,Value=false" in result.stderr
    )
    assert "keeps" in result.stdout  # the plan comes first
    assert protection(stack, arn) == "true"


def test_destroy_turns_deletion_protection_off_on_request_and_says_so(
    prod: Synth, deployed_prod: tuple[LocalStack, str]
) -> None:
    stack, arn = deployed_prod
    result = teardown(stack, prod, DISABLE)
    assert result.returncode == 0, result.stderr
    assert f"deletion protection turned off: {arn}" in result.stdout
    assert protection(stack, arn) == "false"


@pytest.fixture(scope="module")
def deployed_dev_bucket(
    dev: Synth, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalStack, str]]:
    """moto's server with a stack named like dev holding dev's payload bucket, with objects
    under both prefixes."""
    bucket_id, _ = only(dev.resources("AWS::S3::Bucket"))
    template = {"Resources": {bucket_id: {"Type": "AWS::S3::Bucket"}}}
    with running(tmp_path_factory.mktemp("teardown-dev"), worker=False, web=False) as stack:
        cloudformation = stack.client("cloudformation")
        cloudformation.create_stack(StackName="taskqueue-dev", TemplateBody=json.dumps(template))
        bucket = cloudformation.describe_stack_resource(
            StackName="taskqueue-dev", LogicalResourceId=bucket_id
        )["StackResourceDetail"]["PhysicalResourceId"]
        yield stack, bucket


def test_destroy_in_dev_empties_the_payload_bucket_so_the_stack_can_delete_it(
    dev: Synth, deployed_dev_bucket: tuple[LocalStack, str]
) -> None:
    stack, bucket = deployed_dev_bucket
    s3 = stack.client("s3")
    for key in ("params/a/1.json", "results/b/2.json", "results/c/3.json"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")

    result = teardown(stack, dev)

    assert result.returncode == 0, result.stderr
    assert f"bucket {bucket} emptied (3 objects)" in result.stdout
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
