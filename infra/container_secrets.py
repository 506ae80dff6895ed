"""ECS container `secrets` whose read grant names exactly one ARN and one action."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam

from infra.task_secrets import SecretSource


class ExactSecret(ecs.Secret):
    """A container secret read with the ECS agent's one call on the one resource.

    `ecs.Secret.from_secrets_manager` would also grant secretsmanager:DescribeSecret and
    `from_ssm_parameter` ssm:GetParameter(s)/DescribeParameters/GetParameterHistory: the
    agent needs only GetSecretValue, or GetParameters (and kms:Decrypt on a
    customer-managed key). CDK calls `grant_read` with the task's execution role.
    """

    def __init__(self, source: SecretSource) -> None:
        super().__init__()
        self._source = source

    @property
    def arn(self) -> str:
        """The container definition's `valueFrom`."""
        return self._source.source

    @property
    def has_field(self) -> bool | None:
        return None  # the JSON key, if any, is part of `arn` (ECS's valueFrom form)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """GetSecretValue/GetParameters on the resource, kms:Decrypt on its customer key."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[self._source.read_action],
            resource_arns=[self._source.resource_arn],
        )
        if self._source.kms_key is not None:
            grant = grant.combine(
                iam.Grant.add_to_principal(
                    grantee=grantee, actions=["kms:Decrypt"], resource_arns=[self._source.kms_key]
                )
            )
        return grant


def container_secrets(sources: Mapping[str, SecretSource]) -> dict[str, ecs.Secret]:
    """A container's `secrets`: variable name -> its exact secret."""
    return {name: ExactSecret(source) for name, source in sorted(sources.items())}
