"""What `make destroy` keeps and what it cannot delete, read from the synthesized template.

    uv run --frozen python -m infra.teardown cdk.out [--disable-deletion-protection]

`make destroy` runs this between `cdk synth` and `cdk destroy`. It prints each resource the
stack keeps when it is deleted (DeletionPolicy Retain) with the reason the stack recorded in
its metadata (`KEPT_METADATA`, written by `infra.kept`). A load balancer with deletion
protection on (prod's) cannot be deleted by CloudFormation: the stack would end in
DELETE_FAILED, half deleted. So without --disable-deletion-protection it stops (exit 2) and
prints the commands that go on; with it, it turns protection off on the deployed load
balancer (its ARN from the stack's resources) and says so, then `cdk destroy` runs.

CloudFormation cannot delete a bucket that holds objects either: a bucket the stack deletes
(dev's payload bucket; prod keeps it) is emptied first, when the stack is deployed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

KEPT_METADATA = "KeptOnDelete"
"""The template metadata key of a retained resource: why the stack keeps it."""
DELETION_PROTECTION = "deletion_protection.enabled"
LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
BUCKET = "AWS::S3::Bucket"
REFUSED = 2


@dataclass(frozen=True)
class Kept:
    """A resource CloudFormation leaves in place when the stack is deleted."""

    logical_id: str
    resource_type: str
    why: str | None


@dataclass(frozen=True)
class Plan:
    """What deleting the stack keeps, the load balancers it cannot delete as they are, and
    the buckets it deletes (emptied first)."""

    stack_name: str
    kept: list[Kept]
    protected_load_balancers: list[str]
    emptied_buckets: list[str]


def plan_of(cdk_out: Path) -> Plan:
    """The plan of the one stack synthesized into `cdk_out`."""
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    (stack_name, properties), *others = [
        (artifact_id, artifact["properties"])
        for artifact_id, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    ]
    if others:
        raise SystemExit(f"{cdk_out} holds more than one stack")
    template = json.loads((cdk_out / properties["templateFile"]).read_text())
    return plan(properties.get("stackName", stack_name), template)


def plan(stack_name: str, template: dict[str, Any]) -> Plan:
    """The plan of one stack's template."""
    kept, protected, buckets = [], [], []
    for logical_id, resource in template["Resources"].items():
        if resource.get("DeletionPolicy", "Delete") != "Delete":
            why = resource.get("Metadata", {}).get(KEPT_METADATA)
            kept.append(Kept(logical_id, resource["Type"], why))
        elif resource["Type"] == BUCKET:
            buckets.append(logical_id)
        if resource["Type"] == LOAD_BALANCER:
            attributes = resource["Properties"].get("LoadBalancerAttributes", [])
            if {"Key": DELETION_PROTECTION, "Value": "true"} in attributes:
                protected.append(logical_id)
    return Plan(
        stack_name=stack_name,
        kept=kept,
        protected_load_balancers=protected,
        emptied_buckets=buckets,
    )


def describe(plan: Plan) -> list[str]:
    """The plan as lines for the operator."""
    if not plan.kept:
        return [f"Deleting {plan.stack_name} keeps nothing: every resource goes with it."]
    lines = [f"Deleting {plan.stack_name} keeps these (delete them yourself when done):"]
    for item in plan.kept:
        lines.append(
            f"  {item.resource_type} {item.logical_id}: {item.why or 'no reason recorded'}"
        )
    return lines


def physical_id(cloudformation: Any, stack_name: str, logical_id: str) -> str | None:
    """The deployed resource's physical id: a load balancer's ARN, a bucket's name (None
    when the stack is not deployed)."""
    try:
        detail = cloudformation.describe_stack_resource(
            StackName=stack_name, LogicalResourceId=logical_id
        )["StackResourceDetail"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    found: str = detail["PhysicalResourceId"]
    return found


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object of `bucket` (it keeps no versions); how many there were."""
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:  # a page holds at most 1000 keys, DeleteObjects' limit
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def disable_deletion_protection(elbv2: Any, arn: str) -> None:
    """Let the load balancer be deleted (CloudFormation cannot while protection is on)."""
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": DELETION_PROTECTION, "Value": "false"}]
    )


def refusal(plan: Plan, arns: list[str]) -> list[str]:
    """Why destroy stops, and the exact commands that go on."""
    stage = plan.stack_name.rsplit("-", 1)[-1]
    lines = [
        f"{plan.stack_name}'s load balancer has deletion protection on: CloudFormation "
        "cannot delete it, and the stack would end in DELETE_FAILED. Nothing was deleted.",
        "To delete the stack, load balancer included (protection off, then no more questions):",
        f"  make destroy STAGE={stage} DISABLE_DELETION_PROTECTION=yes",
        "or turn the protection off yourself, then run make destroy again:",
    ]
    for arn in arns:
        lines.append(
            f"  aws elbv2 modify-load-balancer-attributes --load-balancer-arn {arn} "
            f"--attributes Key={DELETION_PROTECTION},Value=false"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the plan; refuse a protected load balancer, or unprotect it on request; empty
    the buckets the stack deletes."""
    parser = argparse.ArgumentParser(prog="python -m infra.teardown")
    parser.add_argument("cdk_out", type=Path, help="the synthesized cloud assembly (cdk.out)")
    parser.add_argument("--disable-deletion-protection", action="store_true")
    args = parser.parse_args(argv)
    plan = plan_of(args.cdk_out)
    print("\n".join(describe(plan)), flush=True)
    if not plan.protected_load_balancers and not plan.emptied_buckets:
        return 0
    # The region as the CLI (`taskqueue`) takes it: AWS_REGION, else boto3's configuration.
    session = boto3.Session(region_name=os.environ.get("AWS_REGION") or None)
    cloudformation = session.client("cloudformation")
    found = {
        logical_id: physical_id(cloudformation, plan.stack_name, logical_id)
        for logical_id in plan.protected_load_balancers
    }
    arns = [arn for arn in found.values() if arn is not None]
    if plan.protected_load_balancers and not arns:
        print(f"{plan.stack_name} is not deployed: no load balancer to unprotect.")
    if arns and not args.disable_deletion_protection:
        print("\n".join(refusal(plan, arns)), file=sys.stderr)
        return REFUSED
    # Path-style on a local endpoint (moto's): a bucket's name is no host there.
    local = os.environ.get("AWS_ENDPOINT_URL")
    s3 = session.client("s3", config=Config(s3={"addressing_style": "path" if local else "auto"}))
    for logical_id in plan.emptied_buckets:
        bucket = physical_id(cloudformation, plan.stack_name, logical_id)
        if bucket is not None:
            emptied = empty_bucket(s3, bucket)
            print(f"bucket {bucket} emptied ({emptied} objects): the stack deletes it")
    elbv2 = session.client("elbv2")
    for arn in arns:
        disable_deletion_protection(elbv2, arn)
        print(f"deletion protection turned off: {arn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
