"""Expected failures become one line on stderr and exit code 1, never a stack trace."""

from __future__ import annotations

from typing import Any

import typer
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as AwsConnectionError
from pydantic import ValidationError
from typer.core import TyperGroup


class CliError(Exception):
    """A failure the operator can act on; its message is the whole story."""


def explain(error: BaseException) -> str | None:
    """The one-line message for an expected error; None for a bug (it keeps its traceback)."""
    if isinstance(error, CliError):
        return str(error)
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    if isinstance(error, NoRegionError):
        return "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)"
    if isinstance(error, AwsConnectionError):
        return f"cannot reach AWS: {error}"
    if isinstance(error, ClientError):
        return _client_error(error)
    if isinstance(error, BotoCoreError):
        return f"AWS SDK: {error}"
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'settings'}: {item['msg']}"
            for item in error.errors(include_url=False)
        )
        return f"invalid local settings: {problems}"
    return None


def _client_error(error: ClientError) -> str:
    details = error.response.get("Error", {})
    refused = f"AWS refused {error.operation_name}: {details.get('Code', '?')}"
    # A server error may carry an HTML page: keep the first line, briefly.
    lines = str(details.get("Message") or "").strip().splitlines()
    return f"{refused}: {lines[0][:200]}" if lines else refused


class ErrorReportingGroup(TyperGroup):
    """The command group that turns expected errors into `error: <message>`."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as error:
            message = explain(error)
            if message is None:
                raise
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(1) from None
