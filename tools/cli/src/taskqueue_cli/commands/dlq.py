"""`dlq show | redrive | purge`: the tasks that failed `MAX_RECEIVE_COUNT` times."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from taskqueue.settings import DEFAULT_QUEUE

from taskqueue_cli import dlq
from taskqueue_cli.errors import CliError
from taskqueue_cli.options import JsonLines, Local, QueueName, Stage, target
from taskqueue_cli.output import examples
from taskqueue_cli.queues import read_depth

app = typer.Typer(
    help="The dead-letter queue: tasks whose message was received MAX_RECEIVE_COUNT times "
    "without succeeding.",
    epilog=examples(
        "taskqueue dlq show",
        "taskqueue dlq redrive --queue reports",
        "taskqueue dlq purge --yes",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


@app.command(epilog=examples("taskqueue dlq show", "taskqueue dlq show --limit 10 --json"))
def show(
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 100,
    as_json: JsonLines = False,
    queue: QueueName = DEFAULT_QUEUE,
    stage: Stage = None,
    local: Local = False,
) -> None:
    """List the dead-lettered tasks: name, id, arguments, recorded state, when sent.

    They stay in the DLQ (each is received and at once made visible again). The receive
    count (in --json) counts these looks and the workers' dead-letter sweeps too; the
    recorded state says why the task is there (`DEAD_LETTERED (failed 3 times)`).
    """
    stack = target(stage, local)
    dlq_url = stack.queue(queue).dlq_url
    letters = dlq.peek(stack.client("sqs"), dlq_url, limit)
    ids = [letter.task.task_id for letter in letters if letter.task]
    results = stack.results_table
    dynamodb = stack.client("dynamodb")
    recorded = dlq.recorded_states(dynamodb, results, ids) if results and ids else {}
    if as_json:
        for letter in letters:
            task = letter.task
            record = {
                "message_id": letter.message_id,
                "task": task.name if task else None,
                "id": task.task_id if task else None,
                "args": task.args if task else None,
                "kwargs": task.kwargs if task else None,
                "receive_count": letter.receive_count,
                "state": recorded.get(task.task_id) if task else None,
                "sent_at": letter.sent_at.isoformat(),
            }
            typer.echo(json.dumps(record))
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("task")
    table.add_column("id", min_width=36, overflow="fold")
    table.add_column("arguments", overflow="fold")
    table.add_column("state", overflow="fold")
    table.add_column("sent (UTC)", min_width=19)
    for letter in letters:
        task = letter.task
        table.add_row(
            task.name if task else "(not a Celery task)",
            task.task_id if task else letter.message_id,
            task.arguments() if task else "",
            (recorded.get(task.task_id) or "-") if task else "",
            letter.sent_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console = Console(highlight=False)
    console.print(table)
    console.print(f"{len(letters)} dead-lettered task(s) in {dlq_url.rsplit('/', 1)[-1]}")


@app.command(
    epilog=examples("taskqueue dlq redrive", "taskqueue dlq redrive --limit 1 --stage prod")
)
def redrive(
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Move at most this many (default: all).", show_default=False),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for SQS's move task to finish.")
    ] = 300,
    queue: QueueName = DEFAULT_QUEUE,
    stage: Stage = None,
    local: Local = False,
) -> None:
    """Move the dead-lettered tasks back to their queue, and say how many moved; each
    moved task that was DEAD_LETTERED is PENDING again.

    Uses SQS StartMessageMoveTask where it is available; otherwise (or with --limit) receives,
    sends to the task queue, then deletes each message, never before its send succeeded.
    """
    stack = target(stage, local)
    urls = stack.queue(queue)

    def note(message: str) -> None:
        typer.echo(message, err=True)

    moved = dlq.redrive(stack.client("sqs"), urls.dlq_url, urls.url, limit, timeout, note)
    typer.echo(f"moved {moved.count} message(s) from the DLQ to {urls.url.rsplit('/', 1)[-1]}")
    table = stack.results_table
    if moved.task_ids and table:
        requeued = dlq.requeue(stack.client("dynamodb"), table, moved.task_ids)
        taken = len(moved.task_ids) - requeued
        note(
            f"{requeued} dead-lettered task(s) PENDING again"
            + (f"; {taken} had left DEAD_LETTERED already (a worker took it)" if taken else "")
        )
    elif moved.task_ids:
        note(f"{stack.name} names no results table: a task's state changes when a worker takes it")


@app.command(epilog=examples("taskqueue dlq purge --yes"))
def purge(
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: the DLQ's messages are deleted for good.")
    ] = False,
    queue: QueueName = DEFAULT_QUEUE,
    stage: Stage = None,
    local: Local = False,
) -> None:
    """Delete every message in the DLQ (refuses without --yes)."""
    if not yes:
        raise CliError(
            "refusing to purge the DLQ without --yes: its messages would be deleted for good "
            "(see them with `taskqueue dlq show`, move them back with `taskqueue dlq redrive`)"
        )
    stack = target(stage, local)
    dlq_url = stack.queue(queue).dlq_url
    sqs = stack.client("sqs")
    count = read_depth(sqs, dlq_url).total
    sqs.purge_queue(QueueUrl=dlq_url)
    typer.echo(f"purged {count} message(s) from the DLQ")
