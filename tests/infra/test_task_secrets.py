"""`secrets`: ECS secrets (never environment), read only by the execution role, exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.config import ConfigError, InfraConfig
from tests.infra.conftest import (
    DATABASE_URL_SECRET,
    PARTNER_SECRET,
    SMTP_KEY,
    SMTP_PARAMETER,
    Synth,
    cdk_json_context,
    container,
    container_env,
)

pytestmark = pytest.mark.timeout(300)


def config(**overrides: Any) -> InfraConfig:
    return InfraConfig.from_context({**cdk_json_context(), **overrides})


def secrets_of(synth: Synth, name: str) -> dict[str, str]:
    return {s["Name"]: s["ValueFrom"] for s in container(synth, name).get("Secrets", [])}


def statements(synth: Synth, role_fragment: str) -> list[dict[str, Any]]:
    """The statements of every policy attached to the roles whose logical id has `role_fragment`."""
    found = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"]["Roles"]]
        if any(role_fragment in role for role in roles):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def test_secrets_reach_the_containers_as_ecs_secrets_never_environment(dev_edge: Synth) -> None:
    assert secrets_of(dev_edge, "web") == {
        "DATABASE_URL": DATABASE_URL_SECRET,
        "SMTP_PASSWORD": SMTP_PARAMETER,
    }
    assert secrets_of(dev_edge, "worker") == {
        "DATABASE_URL": DATABASE_URL_SECRET,
        "PARTNER_TOKEN": f"{PARTNER_SECRET}:token::",
    }
    web_env, worker_env = container_env(dev_edge, "web"), container_env(dev_edge, "worker")
    for env in (web_env, worker_env):
        assert not {"DATABASE_URL", "PARTNER_TOKEN", "SMTP_PASSWORD"} & set(env)
        assert not any("secretsmanager" in str(v) or ":ssm:" in str(v) for v in env.values())
    assert web_env["TASK_SECRETS"] == "DATABASE_URL,SMTP_PASSWORD"
    assert worker_env["TASK_SECRETS"] == "DATABASE_URL,PARTNER_TOKEN"


def test_without_secrets_there_are_none_and_no_task_secrets_variable(dev: Synth) -> None:
    for name in ("web", "worker"):
        assert secrets_of(dev, name) == {}
        assert "TASK_SECRETS" not in container_env(dev, name)


def test_only_the_execution_roles_read_exactly_those_arns(dev_edge: Synth) -> None:
    reads = {"secretsmanager:GetSecretValue", "ssm:GetParameters", "kms:Decrypt"}

    def secret_reads(role_fragment: str) -> set[tuple[str, str]]:
        found = set()
        for statement in statements(dev_edge, role_fragment):
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                if action.split(":")[0] in {"secretsmanager", "ssm", "kms"}:
                    assert action in reads, statement
                    resources = statement["Resource"]
                    for resource in [resources] if isinstance(resources, str) else resources:
                        found.add((action, resource))
        return found

    # The web's execution role is the pattern's (…TaskDefExecutionRole…), the worker's its own.
    assert secret_reads("WebServiceTaskDefExecutionRole") == {
        ("secretsmanager:GetSecretValue", DATABASE_URL_SECRET),
        ("ssm:GetParameters", SMTP_PARAMETER),
        ("kms:Decrypt", SMTP_KEY),
    }
    assert secret_reads("WorkerTaskDefinitionExecutionRole") == {
        ("secretsmanager:GetSecretValue", DATABASE_URL_SECRET),
        ("secretsmanager:GetSecretValue", PARTNER_SECRET),  # the secret, not ":token::"
    }
    for task_role in ("WebTaskRole", "WorkerTaskRole"):
        assert secret_reads(task_role) == set()


def test_the_task_definitions_name_their_execution_roles(dev_edge: Synth) -> None:
    dev_edge.template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": [Match.object_like({"Name": "worker"})],
            "ExecutionRoleArn": {"Fn::GetAtt": [Match.string_like_regexp("Execution"), "Arn"]},
        },
    )


def test_a_bare_arn_means_both_services_and_cdk_json_may_hold_objects() -> None:
    from_cli = config(secrets=json.dumps({"API_KEY": DATABASE_URL_SECRET}))
    in_cdk_json = config(secrets={"API_KEY": {"from": DATABASE_URL_SECRET}})
    assert from_cli.secrets == in_cdk_json.secrets
    assert from_cli.secrets["API_KEY"].services == ("web", "worker")


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({"TASK_QUEUE_URL": DATABASE_URL_SECRET}, "runtime Settings variable"),
        ({"log_level": DATABASE_URL_SECRET}, "runtime Settings variable"),
        ({"AWS_ACCESS_KEY_ID": DATABASE_URL_SECRET}, "AWS's"),
        ({"NOT-A-NAME": DATABASE_URL_SECRET}, "not an environment variable name"),
        # A partial ARN (no 6-character suffix) names no single secret.
        (
            {"DB": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db"},
            "complete ARN",
        ),
        ({"DB": "arn:aws:s3:::bucket/key"}, "neither"),
        ({"DB": {"from": SMTP_PARAMETER, "services": []}}, "services"),
        ({"DB": {"from": SMTP_PARAMETER, "services": ["cron"]}}, "services"),
        ({"DB": {"from": SMTP_PARAMETER, "kmsKey": "alias/mine"}}, "KMS key ARN"),
        ({"DB": {"from": SMTP_PARAMETER, "typo": 1}}, "typo"),
    ],
)
def test_a_bad_secret_is_refused_naming_the_context_key(
    secrets: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match="secrets") as refused:
        config(secrets=json.dumps(secrets))
    assert message in str(refused.value)


def test_a_name_ecs_reserves_is_refused() -> None:
    """infra/README.md: `AWS_*`/`ECS_*` names are refused at synth, naming `secrets`."""
    with pytest.raises(ConfigError, match="secrets"):
        config(secrets=json.dumps({"ECS_CONTAINER_METADATA_URI": DATABASE_URL_SECRET}))
    with pytest.raises(ConfigError, match="secrets"):
        config(secrets=json.dumps({"ECS_PASSWORD": DATABASE_URL_SECRET}))
