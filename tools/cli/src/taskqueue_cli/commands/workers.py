"""`workers scale N` and `workers status`: the worker service in ECS."""

from __future__ import annotations

from typing import Annotated

import typer

from taskqueue_cli import workers
from taskqueue_cli.options import Local, Stage, target
from taskqueue_cli.output import echo_fields, examples

app = typer.Typer(
    help="The worker service on ECS (a deployed stack: pass --stage).",
    epilog=examples(
        "taskqueue workers status --stage dev", "taskqueue workers scale 3 --stage dev"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
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
