"""A task's secret variables (cdk.json's `secrets`), read as `SecretStr`, never plain text.

ECS fills them from Secrets Manager or SSM when the task starts; `TASK_SECRETS` names them.
A `SecretStr` prints as ``'**********'`` in a log line, a repr or an exception message, so a
failing task does not leak its value; `get_secret_value()` gives the text where it is used.
"""

from __future__ import annotations

import os

from pydantic import SecretStr

from taskqueue.settings import get_settings


class UnknownSecret(KeyError):
    """The variable is not one of this service's secrets (or ECS did not set it)."""


def names() -> frozenset[str]:
    """This service's secret variables (`TASK_SECRETS`)."""
    return frozenset(n for n in get_settings().task_secrets.split(",") if n.strip())


def get(name: str) -> SecretStr:
    """The value of the secret variable `name`; only the names in `TASK_SECRETS`."""
    if name not in names():
        raise UnknownSecret(f"{name} is not in TASK_SECRETS")
    value = os.environ.get(name)
    if value is None:
        raise UnknownSecret(f"{name} is in TASK_SECRETS but not set")
    return SecretStr(value)
