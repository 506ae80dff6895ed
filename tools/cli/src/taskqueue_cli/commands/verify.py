"""`verify --stage S`: after a deploy, prove the stack works where it matters, check by check.

`make verify STAGE=dev` runs it. Each check prints its figure; the exit code is 1 if any
failed. Against a local endpoint (AWS_ENDPOINT_URL: the rehearsal) a check the endpoint
cannot perform is printed as "not verifiable offline" with the reason; on AWS every check runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from taskqueue_cli.options import Url
from taskqueue_cli.output import examples

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
    # Imported here: the checks import Celery (the schedules' expressions), whose import
    # every other command would pay for at its start (`taskqueue status` of a running task).
    from taskqueue_cli.verify.run import verify_stack

    raise typer.Exit(
        verify_stack(stage, url, task_timeout=task_timeout, alarm_timeout=alarm_timeout)
    )
