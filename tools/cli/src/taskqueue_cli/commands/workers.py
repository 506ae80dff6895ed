"""`workers list`: the live workers (GET /workers); `workers scale N` and `workers status`:
the worker service in ECS."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from taskqueue_cli import workers
from taskqueue_cli.options import ApiKey, JsonLines, Local, Stage, Url, target
from taskqueue_cli.output import echo_fields, examples
from taskqueue_cli.web import WebClient

app = typer.Typer(
    help="The workers: the live ones as they report themselves (`list`, local or deployed);"
    " the worker service on ECS (`scale`, `status`: a deployed stack, pass --stage).",
    epilog=examples(
        "taskqueue workers list",
        "taskqueue workers status --stage dev",
        "taskqueue workers scale 3 --stage dev",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


LIST_COLUMNS = ("WORKER", "QUEUE", "BUSY", "RUNNING", "VERSION", "LAST RECEIVE", "SEEN")


LIST_EXAMPLES = examples("taskqueue workers list", "taskqueue workers list --stage prod")


@app.command("list", epilog=LIST_EXAMPLES)
def list_workers(
    as_json: JsonLines = False,
    stage: Stage = None,
    local: Local = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Show each live worker: the queue it consumes, busy pool slots of its concurrency, the
    ids of your tasks it runs, its version, when it last received a task and last reported
    (GET /workers).

    A worker that stopped reporting leaves the list within WORKER_PRESENCE_WINDOW seconds.
    """
    found = WebClient(target(stage, local, url).require_web(), api_key).workers()
    if as_json:
        for worker in found:
            typer.echo(json.dumps(worker))
        return
    if not found:
        typer.echo("no live workers")
        return
    rows = [LIST_COLUMNS, *(worker_row(worker) for worker in found)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(LIST_COLUMNS))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        typer.echo("  ".join(cells).rstrip())


def worker_row(worker: dict[str, Any]) -> tuple[str, ...]:
    """One worker's line of `workers list`."""
    return (
        str(worker["worker"]),
        str(worker.get("queue") or "default"),  # a web from before several queues names none
        f"{worker['busy']}/{worker['concurrency']}",
        ",".join(worker["running"]) or "-",
        str(worker["version"]),
        worker["last_receive"] or "never",
        str(worker["seen_at"]),
    )


@app.command(
    epilog=examples(
        "taskqueue workers scale 3 --stage dev",
        "taskqueue workers scale 0 --stage dev --no-wait",
        "make scale-workers N=3 STAGE=dev",
    )
)
def scale(
    count: Annotated[int, typer.Argument(metavar="N", min=0, help="The worker tasks to run.")],
    wait: Annotated[bool, typer.Option(help="Print the counts until running = desired.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for ECS.")] = 300,
    interval: Annotated[float, typer.Option(help="Seconds between reads.")] = 5,
    stage: Stage = None,
    local: Local = False,
) -> None:
    """Set the worker service's desired count (ECS UpdateService).

    Refuses N outside the service's autoscaling bounds. Autoscaling moves the count again
    on its next alarm; a deploy leaves it (the template sets no desired count).
    """
    stack = target(stage, local)
    cluster, service = stack.require_workers()
    ecs = stack.client("ecs")
    bounds = workers.read_bounds(stack.client("application-autoscaling"), cluster, service)
    workers.check_within(count, bounds)
    before = workers.read_counts(ecs, cluster, service)
    workers.set_desired(ecs, cluster, service, count)
    limits = f" (autoscaling bounds {bounds})" if bounds else ""
    typer.echo(f"{service}: desired {before.desired} -> {count}{limits}")
    if not wait:
        return
    workers.wait_settled(
        lambda: workers.read_counts(ecs, cluster, service),
        lambda counts: typer.echo(str(counts)),
        timeout,
        interval,
    )


@app.command(epilog=examples("taskqueue workers status --stage prod"))
def status(stage: Stage = None, local: Local = False) -> None:
    """Show the worker service's running, pending and desired tasks, and its min and max."""
    stack = target(stage, local)
    cluster, service = stack.require_workers()
    counts = workers.read_counts(stack.client("ecs"), cluster, service)
    bounds = workers.read_bounds(stack.client("application-autoscaling"), cluster, service)
    echo_fields(
        [
            ("service", service),
            ("cluster", cluster),
            ("running", counts.running),
            ("pending", counts.pending),
            ("desired", counts.desired),
            ("min", bounds.low if bounds else "- (no autoscaling)"),
            ("max", bounds.high if bounds else "- (no autoscaling)"),
        ]
    )
