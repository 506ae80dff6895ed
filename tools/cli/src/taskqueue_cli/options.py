"""The options every command shares: which stack to operate."""

from __future__ import annotations

from typing import Annotated

import typer

from taskqueue_cli.target import Target, resolve

PANEL = "Target"

Stage = Annotated[
    str | None,
    typer.Option(
        "--stage",
        envvar="TASKQUEUE_STAGE",
        help="Deployed stage: read the outputs of its CloudFormation stack (the stage's "
        "`stackName` in ./cdk.json). Without it, the local stack.",
        show_default=False,
        rich_help_panel=PANEL,
    ),
]
Local = Annotated[
    bool,
    typer.Option(
        "--local",
        help="The local stack: settings from the environment and ./local.env "
        "(wins over --stage / TASKQUEUE_STAGE).",
        rich_help_panel=PANEL,
    ),
]
Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="TASKQUEUE_URL",
        help="Web service URL, instead of the stack's ServiceUrl or the local WEB_BIND.",
        show_default=False,
        rich_help_panel=PANEL,
    ),
]

ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="TASKQUEUE_API_KEY",
        help="The client's API key the web requires (from `taskqueue keys create NAME`).",
        show_default=False,
        show_envvar=True,
        rich_help_panel=PANEL,
    ),
]

# `--queue` of the dlq commands: which queue's DLQ (`register(..., queue=)`).
QueueName = Annotated[
    str,
    typer.Option("--queue", help="The queue whose DLQ, e.g. reports.", rich_help_panel=PANEL),
]

# `--json` on the commands that list rows: one JSON object a line.
JsonLines = Annotated[bool, typer.Option("--json", help="Print JSON lines instead.")]


def target(stage: str | None, local: bool, url: str | None = None) -> Target:
    """The stack the options name."""
    return resolve(stage=None if local else stage, url=url)
