"""The `taskqueue` command: queue work and follow it, see the queues, handle the
dead-letter queue, scale the workers; against the local stack or a deployed one."""

from __future__ import annotations

import typer

from taskqueue_cli.commands import dlq, keys, queues, schedules, tasks, verify, workers
from taskqueue_cli.errors import ErrorReportingGroup
from taskqueue_cli.output import examples

EXAMPLES = examples(
    "taskqueue enqueue long_task duration=3 --watch",
    "taskqueue tasks list --watch",
    "taskqueue queues --watch",
    "taskqueue dlq show",
    "taskqueue dlq redrive",
    "taskqueue workers scale 3 --stage dev",
    "taskqueue keys create billing --stage dev",
    "taskqueue schedules list",
    "taskqueue verify --stage dev",
    note="`taskqueue COMMAND --help` shows each command's",
)

app = typer.Typer(
    cls=ErrorReportingGroup,
    help="Operate the task queue. Every command works on the local stack (the default: "
    "settings from the environment and ./local.env) or on a deployed stack (`--stage dev`: "
    "the outputs of CloudFormation stack taskqueue-dev).",
    epilog=EXAMPLES,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command(epilog=tasks.ENQUEUE_EXAMPLES)(tasks.enqueue)
app.command(epilog=tasks.STATUS_EXAMPLES)(tasks.status)
app.command()(tasks.cancel)
app.add_typer(tasks.app, name="tasks")
app.command(epilog=queues.EXAMPLES)(queues.queues)
app.add_typer(dlq.app, name="dlq")
app.add_typer(workers.app, name="workers")
app.add_typer(keys.app, name="keys")
app.add_typer(schedules.app, name="schedules")
app.command(epilog=verify.EXAMPLES)(verify.verify)
