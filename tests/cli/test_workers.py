"""`workers scale` and `workers status` against moto's ECS and Application Auto Scaling,
found through a CloudFormation stack's outputs, as on AWS."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.stack import LocalStack
from tests.cli.conftest import Cli, one_line_error, write_cdk_json

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


@dataclass(frozen=True)
class Deployed:
    """A stage whose stack names an ECS cluster and worker service in moto."""

    stage: str
    cluster: str
    service: str
    cli: Cli


def deploy(stack: LocalStack, cwd: Path, *, bounds: tuple[int, int] | None) -> Deployed:
    """A cluster, a worker service at 1 task, its scalable target, and stack outputs."""
    stage = f"t{uuid.uuid4().hex[:8]}"
    cluster, service = f"{stage}-cluster", f"{stage}-worker"
    ecs = stack.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=service,
        containerDefinitions=[{"name": "worker", "image": "worker:latest", "memory": 512}],
    )
    ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=service, desiredCount=1)
    if bounds is not None:
        stack.client("application-autoscaling").register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{cluster}/{service}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=bounds[0],
            MaxCapacity=bounds[1],
        )
    outputs = {
        "ServiceUrl": "http://127.0.0.1:9",
        "QueueUrl": stack.queue_url,
        "DlqUrl": stack.queue_url + "-dlq",
        "ClusterName": cluster,
        "WebServiceName": f"{stage}-web",
        "WorkerServiceName": service,
    }
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    stack.client("cloudformation").create_stack(
        StackName=f"taskqueue-{stage}", TemplateBody=json.dumps(template)
    )
    write_cdk_json(cwd, stage, f"taskqueue-{stage}")
    return Deployed(stage=stage, cluster=cluster, service=service, cli=Cli(stack.env, cwd))


def desired(stack: LocalStack, deployed: Deployed) -> int:
    [service] = stack.client("ecs").describe_services(
        cluster=deployed.cluster, services=[deployed.service]
    )["services"]
    return int(service["desiredCount"])


@pytest.fixture
def deployed(aws_stack: LocalStack, tmp_path: Path) -> Deployed:
    return deploy(aws_stack, tmp_path, bounds=(0, 3))


def test_scale_sets_the_desired_count_and_reports_until_running_matches(
    deployed: Deployed, aws_stack: LocalStack
) -> None:
    result = deployed.cli("workers", "scale", "2", "--stage", deployed.stage, "--interval", "0.1")

    assert result.returncode == 0, result.stderr
    assert desired(aws_stack, deployed) == 2
    assert result.stdout.splitlines() == [
        f"{deployed.service}: desired 1 -> 2 (autoscaling bounds 0..3)",
        "running 2, pending 0, desired 2",
    ]


@pytest.mark.parametrize("count", ["4", "10"])
def test_scale_refuses_a_count_outside_the_autoscaling_bounds(
    deployed: Deployed, aws_stack: LocalStack, count: str
) -> None:
    line = one_line_error(deployed.cli("workers", "scale", count, "--stage", deployed.stage))

    assert line.startswith(
        f"error: {count} is outside the worker service's autoscaling bounds 0..3"
    )
    assert desired(aws_stack, deployed) == 1


def test_scale_refuses_a_negative_count(deployed: Deployed, aws_stack: LocalStack) -> None:
    result = deployed.cli("workers", "scale", "--stage", deployed.stage, "--", "-1")

    assert result.returncode == 2  # a usage error, before anything is asked of AWS
    assert "Traceback" not in result.stderr
    assert desired(aws_stack, deployed) == 1


def test_without_a_scalable_target_any_count_from_zero_is_allowed(
    aws_stack: LocalStack, tmp_path: Path
) -> None:
    deployed = deploy(aws_stack, tmp_path, bounds=None)

    result = deployed.cli("workers", "scale", "7", "--stage", deployed.stage, "--no-wait")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{deployed.service}: desired 1 -> 7"
    assert desired(aws_stack, deployed) == 7
    status = deployed.cli("workers", "status", "--stage", deployed.stage).stdout
    assert "min      - (no autoscaling)" in status


def test_status_shows_running_pending_desired_min_and_max(deployed: Deployed) -> None:
    result = deployed.cli("workers", "status", "--stage", deployed.stage)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"service  {deployed.service}",
        f"cluster  {deployed.cluster}",
        "running  0",
        "pending  1",
        "desired  1",
        "min      0",
        "max      3",
    ]


def test_the_local_stack_has_no_worker_service(aws_stack: LocalStack, tmp_path: Path) -> None:
    line = one_line_error(Cli(aws_stack.env, tmp_path)("workers", "status"))

    assert line == (
        "error: the local stack has no ECS worker service: "
        "pass --stage <stage> for a deployed stack"
    )
