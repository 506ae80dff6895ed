"""One `taskqueue verify` run: read the stack, run every check in order, print each line as
it comes, revoke the key at the end."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from functools import partial

import typer

from taskqueue_cli.target import from_stack, stack_name_of
from taskqueue_cli.verify import alarm, resources, service
from taskqueue_cli.verify.context import Context
from taskqueue_cli.verify.report import Check, Result, exit_code, render, run_check, summary
from taskqueue_cli.verify.stack import DeployedStack


def verify_stack(stage: str, url: str | None, *, task_timeout: float, alarm_timeout: float) -> int:
    """Check the stage's deployed stack; the exit code (1 if any check failed)."""
    stack_name = stack_name_of(stage)
    target = from_stack(stack_name, url)
    context = Context(
        stack=DeployedStack.read(target.client("cloudformation"), stack_name),
        target=target,
        offline=bool(os.environ.get("AWS_ENDPOINT_URL")),
        url_given=url is not None,
        task_timeout=task_timeout,
        alarm_timeout=alarm_timeout,
        client_name=f"verify-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}",
    )
    planned = checks(context)
    revoke: Check = ("api key revoked", partial(service.revoke_api_key, context))
    width = max(len(name) for name, _ in [*planned, revoke])
    results: list[Result] = []

    def run(check: Check) -> None:
        results.append(run_check(check, offline=context.offline))
        for line in render(results[-1], width):
            typer.echo(line)

    try:
        for check in planned:
            run(check)
    finally:
        if context.api_key is not None:
            run(revoke)
    typer.echo(summary(results))
    return exit_code(results)


def checks(context: Context) -> list[Check]:
    """Every check, in the order they run: the task wakes the workers before their presence
    is looked for."""
    return [
        ("load balancer targets", partial(resources.targets_healthy, context)),
        ("api key", partial(service.make_api_key, context)),
        ("task to SUCCESS", partial(service.task_reaches_success, context)),
        ("worker presence", partial(service.workers_present, context)),
        ("alarm notification", partial(alarm.alarm_notifies, context)),
        *resources.schedule_checks(context),
        *resources.dead_letter_checks(context),
        *resources.payload_bucket_checks(context),
    ]
