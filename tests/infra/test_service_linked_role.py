"""`make bootstrap` makes sure ECS's service-linked role exists, idempotently (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.service_linked_role import ECS_ROLE_NAME, ensure_ecs_service_linked_role

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def ecs_linked_roles(iam: Any) -> list[str]:
    roles = iam.list_roles(PathPrefix="/aws-service-role/ecs.amazonaws.com/")["Roles"]
    return [role["RoleName"] for role in roles]


def test_the_first_call_creates_the_role_and_the_second_changes_nothing(iam: Any) -> None:
    assert ecs_linked_roles(iam) == []
    assert ensure_ecs_service_linked_role(iam) is True
    (created,) = ecs_linked_roles(iam)  # moto names it AWSServiceRoleForecs; AWS, ...ECS
    assert created.lower() == ECS_ROLE_NAME.lower()
    assert ensure_ecs_service_linked_role(iam) is False
    assert ecs_linked_roles(iam) == [created]


def test_aws_answer_for_an_existing_role_is_success(iam: Any) -> None:
    """AWS's answer when the role exists (moto answers EntityAlreadyExists instead)."""
    taken = ClientError(
        {
            "Error": {
                "Code": "InvalidInput",
                "Message": f"Service role name {ECS_ROLE_NAME} has been taken in this account",
            }
        },
        "CreateServiceLinkedRole",
    )
    with mock.patch.object(iam, "create_service_linked_role", side_effect=taken):
        assert ensure_ecs_service_linked_role(iam) is False


def test_other_errors_are_not_swallowed(iam: Any) -> None:
    denied = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "CreateServiceLinkedRole"
    )
    with (
        mock.patch.object(iam, "create_service_linked_role", side_effect=denied),
        pytest.raises(ClientError, match="AccessDenied"),
    ):
        ensure_ecs_service_linked_role(iam)
