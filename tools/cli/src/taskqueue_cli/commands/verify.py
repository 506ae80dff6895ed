"""`verify --stage S`: after a deploy, prove the stack works where it matters, check by check.

`make verify STAGE=dev` runs it. Each check prints its figure; the exit code is 1 if any
failed. Against a local endpoint (AWS_ENDPOINT_URL: the rehearsal) a check the endpoint
cannot perform is printed as "not verifiable offline" with the reason; on AWS every check runs.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Annotated

import typer

from taskqueue_cli.options import Url
from taskqueue_cli.output import examples
from taskqueue_cli.target import from_stack, stack_name_of
from taskqueue_cli.verify import alarm, resources, service
from taskqueue_cli.verify.context import Context
from taskqueue_cli.verify.report import Check, Result, exit_code, render, run_check, summary
from taskqueue_cli.verify.stack import DeployedStack

EXAMPLES = examples(
    "taskqueue verify --stage dev",
    "make verify STAGE=prod",
    "AWS_ENDPOINT_URL=http://localhost:4566 taskqueue verify --stage dev --url http://127.0.0.1:8080",
)


def verify(
    stage: Annotated[
        str,
        typer.Option(
            "--stage",
            envvar="TASKQUEUE_STAGE",
            help="The deployed stage: its CloudFormation stack (the stage's `stackName` in"
            " ./cdk.json).",
            show_default=False,
        ),
    ],
    url: Url = None,
    task_timeout: Annotated[
        float,
        typer.Option(help="Seconds for the task to reach SUCCESS (a wake from zero included)."),
    ] = 600,
    alarm_timeout: Annotated[
        float, typer.Option(help="Seconds for the alarm's action to show in its history.")
    ] = 180,
) -> None:
    """Check a deployed stack end to end and print each check with its figure.

    The load balancer's targets are healthy; an API key is made (and revoked at the end); a
    task queued on the web (its ServiceUrl, or --url) reaches SUCCESS, with the time a worker
    took to pick it up (to wake, when the worker service was at 0); the workers report
    themselves; one alarm with an SNS action, set to ALARM, shows the action Succeeded in its
    history (then back to OK: its subscribers get two messages); each schedule exists, with its
    next fire; each dead-letter queue is empty. Exit code 1 if any check failed.
    """
    name = stack_name_of(stage)
    target = from_stack(name, url)
    context = Context(
        stack=DeployedStack.read(target.client("cloudformation"), name),
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
    raise typer.Exit(exit_code(results))


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
    ]
