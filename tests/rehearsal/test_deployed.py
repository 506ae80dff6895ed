"""What moto drops from a deployed task definition comes from the template, by logical id."""

from __future__ import annotations

from typing import Any

import pytest

from rehearsal.deployed import DEPLOYED, NotDeployed, complete, initial_count, logical_id_of

ROLE = "arn:aws:iam::123456789012:role/taskqueue-dev-WorkerTaskRole9DE568C1-EBO0XI1OEIRI"


class FakeIam:
    """`list_roles` pages with the roles CloudFormation created."""

    def get_paginator(self, name: str) -> Any:
        assert name == "list_roles"
        roles = [{"RoleName": ROLE.rsplit("/", 1)[1], "Arn": ROLE}]
        return type("Pages", (), {"paginate": lambda self: [{"Roles": roles}]})()


TEMPLATE_TASK_DEFINITION = {
    "Type": "AWS::ECS::TaskDefinition",
    "Properties": {
        "Cpu": "512",
        "Memory": "1024",
        "NetworkMode": "awsvpc",
        "RuntimePlatform": {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"},
        "TaskRoleArn": {"Fn::GetAtt": ["WorkerTaskRole9DE568C1", "Arn"]},
    },
}


def test_the_service_name_gives_its_logical_id() -> None:
    name = "taskqueue-dev-WorkerService3F60922A-OK0WQK3EXK34"
    assert logical_id_of(name, "taskqueue-dev") == "WorkerService3F60922A"
    with pytest.raises(NotDeployed):
        logical_id_of(name, "taskqueue-prod")


def test_dropped_fields_come_from_the_template_and_say_so() -> None:
    deployed = {
        "family": "f",
        "memory": "1024",
        "networkMode": "bridge",
        "containerDefinitions": [],
    }
    merged, sources = complete(
        deployed, TEMPLATE_TASK_DEFINITION, "WorkerTaskDefinition", stack_name="taskqueue-dev",
        iam=FakeIam(),
    )  # fmt: skip
    assert merged["runtimePlatform"] == {
        "cpuArchitecture": "X86_64",
        "operatingSystemFamily": "LINUX",
    }
    assert merged["taskRoleArn"] == ROLE
    assert merged["networkMode"] == "awsvpc"
    assert merged["cpu"] == "512"
    assert sources["runtimePlatform"] == sources["taskRoleArn"] == "template WorkerTaskDefinition"
    assert sources["memory"] == sources["family"] == DEPLOYED  # the same in both: deployed


def test_an_unresolvable_reference_is_an_error() -> None:
    resource = {"Properties": {"TaskRoleArn": {"Fn::ImportValue": "x"}}}
    with pytest.raises(NotDeployed):
        complete({}, resource, "X", stack_name="taskqueue-dev", iam=FakeIam())


def scalable_target(minimum: int, maximum: int) -> dict[str, Any]:
    """An Application Auto Scaling target on the service `WorkerService3F60922A`."""
    resource_id = {
        "Fn::Join": [
            "",
            [
                "service/",
                {"Ref": "Cluster"},
                "/",
                {"Fn::GetAtt": ["WorkerService3F60922A", "Name"]},
            ],
        ]
    }
    return {
        "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
        "Properties": {"MinCapacity": minimum, "MaxCapacity": maximum, "ResourceId": resource_id},
    }


@pytest.mark.parametrize(
    ("minimum", "maximum", "expected"), [(0, 10, 1), (2, 10, 2), (1, 1, 1), (3, 20, 3)]
)
def test_a_service_without_desired_count_starts_as_cloudformation_and_its_scalable_target_would(
    minimum: int, maximum: int, expected: int
) -> None:
    resources = {
        "WorkerService3F60922A": {"Type": "AWS::ECS::Service", "Properties": {}},
        "WorkerScaling": scalable_target(minimum, maximum),
    }

    # moto reports 0 for a service created without DesiredCount; AWS starts one task.
    count, source = initial_count({"desiredCount": 0}, resources, "WorkerService3F60922A")

    assert count == expected
    assert source.startswith("template WorkerScaling")


def test_a_desired_count_the_template_sets_is_read_as_deployed() -> None:
    resources = {
        "WorkerService3F60922A": {"Type": "AWS::ECS::Service", "Properties": {"DesiredCount": 4}},
        "WorkerScaling": scalable_target(2, 10),
    }

    assert initial_count({"desiredCount": 4}, resources, "WorkerService3F60922A") == (4, DEPLOYED)
