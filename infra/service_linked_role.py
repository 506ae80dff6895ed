"""Make sure the account has ECS's service-linked role before the first deploy.

ECS creates `AWSServiceRoleForECS` itself on first use, but a CloudFormation stack that
creates a cluster in a new account can race it and fail (cloudformation-coverage-roadmap
#818). `make bootstrap` runs this first: it creates the role when it is missing, and an
existing role (or one created meanwhile) is success.

    uv run --frozen python -m infra.service_linked_role
"""

from __future__ import annotations

import sys
from typing import Any

import boto3
from botocore.exceptions import ClientError

ECS_SERVICE = "ecs.amazonaws.com"
ECS_ROLE_NAME = "AWSServiceRoleForECS"
# What IAM answers when the role exists: InvalidInput "Service role name ... has been taken
# in this account" (AWS), or EntityAlreadyExists "... already exists" (moto).
_ALREADY_THERE = ("has been taken", "already exists")


def ensure_ecs_service_linked_role(iam: Any) -> bool:
    """Create ECS's service-linked role if it is missing; True when this call created it.

    No lookup by name first: asking IAM to create it and accepting "already there" is one
    call, and also right when ECS creates it between a lookup and the create.
    """
    try:
        iam.create_service_linked_role(
            AWSServiceName=ECS_SERVICE,
            Description="Lets ECS manage the cluster's tasks, load balancer targets and ENIs",
        )
    except ClientError as error:
        code = error.response["Error"]["Code"]
        message = error.response["Error"].get("Message", "")
        if code in ("InvalidInput", "EntityAlreadyExists") and any(
            text in message for text in _ALREADY_THERE
        ):
            return False
        raise
    return True


def main() -> None:
    created = ensure_ecs_service_linked_role(boto3.client("iam"))
    state = "created" if created else "already exists"
    print(f"ECS service-linked role {ECS_ROLE_NAME}: {state}", file=sys.stderr)


if __name__ == "__main__":
    main()
