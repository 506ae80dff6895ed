"""The `secrets` context: environment variables ECS fills from Secrets Manager or SSM.

Context (per stage in cdk.json, or ``-c 'secrets={...}'`` as JSON)::

    "secrets": {
        "DATABASE_URL": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
        "API_TOKEN": "arn:aws:secretsmanager:…:secret:partner-AbCdEf:token::",
        "SMTP_PASSWORD": {
            "from": "arn:aws:ssm:eu-west-1:123456789012:parameter/taskqueue/smtp",
            "services": ["worker"],
            "kmsKey": "arn:aws:kms:eu-west-1:123456789012:key/…"
        }
    }

A source is the ECS ``valueFrom`` text: a Secrets Manager secret's complete ARN (with the
6-character suffix Secrets Manager appends to the name), optionally followed by
``:json-key:version-stage:version-id`` (one key of a JSON secret), or an SSM parameter ARN
(a SecureString). ``services`` defaults to both. The values reach the containers as ECS
``secrets``: the execution role reads exactly those ARNs when a task starts (plus
``kms:Decrypt`` on ``kmsKey`` when the secret is under a customer-managed key); nothing
else, and no task role, may read them. Each container's ``TASK_SECRETS`` lists its names
(``taskqueue.secrets.get`` reads only those).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel
from taskqueue.settings import Settings

Service = Literal["web", "worker"]
SERVICES: tuple[Service, ...] = ("web", "worker")
SecretStore = Literal["secretsmanager", "ssm"]
"""The service a secret is read from, as its VPC endpoint is named (com.amazonaws.<region>.…)."""

SECRETS_MANAGER_SOURCE = re.compile(
    r"(?P<arn>arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6})"
    r"(?::(?P<json_key>[^:]*):(?P<version_stage>[^:]*):(?P<version_id>[^:]*))?"
)
"""A complete secret ARN, then optionally ECS's ``:json-key:version-stage:version-id``."""
SSM_PARAMETER_SOURCE = re.compile(r"arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[\w./-]+")
KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[\w-]+")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED_PREFIXES = ("AWS_", "ECS_")
"""Fargate and the AWS SDKs own these variables (region, credentials, metadata)."""


def _source(value: str) -> str:
    if SECRETS_MANAGER_SOURCE.fullmatch(value) or SSM_PARAMETER_SOURCE.fullmatch(value):
        return value
    raise ValueError(
        f"{value!r} is neither a Secrets Manager secret's complete ARN (arn:aws:secretsmanager:"
        "REGION:ACCOUNT:secret:NAME-AbCdEf, the 6-character suffix included, optionally "
        "followed by :json-key:version-stage:version-id) nor an SSM parameter ARN "
        "(arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)"
    )


def _kms_key(value: str) -> str:
    if KMS_KEY_ARN.fullmatch(value):
        return value
    raise ValueError(f"{value!r} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)")


class SecretSource(BaseModel):
    """Where one variable's value comes from, and which services get it."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    source: Annotated[str, AfterValidator(_source)] = Field(alias="from")
    services: tuple[Service, ...] = Field(SERVICES, min_length=1)
    kms_key: Annotated[str, AfterValidator(_kms_key)] | None = None
    """A customer-managed KMS key the secret is encrypted with (AWS managed keys need none)."""

    @property
    def is_secrets_manager(self) -> bool:
        return SECRETS_MANAGER_SOURCE.fullmatch(self.source) is not None

    @property
    def resource_arn(self) -> str:
        """The ARN IAM names: the secret without its JSON key and version, or the parameter."""
        match = SECRETS_MANAGER_SOURCE.fullmatch(self.source)
        return match["arn"] if match else self.source

    @property
    def store(self) -> SecretStore:
        """Where the ECS agent reads it: Secrets Manager or SSM Parameter Store."""
        return "secretsmanager" if self.is_secrets_manager else "ssm"

    @property
    def read_action(self) -> str:
        """The one call the ECS agent makes to read it."""
        return "secretsmanager:GetSecretValue" if self.is_secrets_manager else "ssm:GetParameters"


def _from_text(value: object) -> object:
    """`-c secrets={...}` arrives as JSON text; a bare ARN means both services."""
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, Mapping):
        return {k: {"from": v} if isinstance(v, str) else v for k, v in value.items()}
    return value


def _names(secrets: dict[str, SecretSource]) -> dict[str, SecretSource]:
    for name in secrets:
        if not VARIABLE_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not an environment variable name")
        if name.lower() in Settings.model_fields:
            raise ValueError(
                f"{name!r} is a runtime Settings variable: the stack sets it as configuration"
            )
        if name.upper().startswith(RESERVED_PREFIXES):
            raise ValueError(f"{name!r}: variables named {'/'.join(RESERVED_PREFIXES)}* are AWS's")
    return secrets


TaskSecrets = Annotated[
    dict[str, SecretSource], BeforeValidator(_from_text), AfterValidator(_names)
]
"""The `secrets` context value: variable name -> source, checked once."""


def for_service(secrets: Mapping[str, SecretSource], service: Service) -> dict[str, SecretSource]:
    """The secrets `service`'s containers get, by variable name."""
    return {name: source for name, source in secrets.items() if service in source.services}


def stores(sources: Iterable[SecretSource]) -> frozenset[SecretStore]:
    """The services a task must reach to read `sources` when it starts."""
    return frozenset(source.store for source in sources)
