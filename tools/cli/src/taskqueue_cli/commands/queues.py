"""`queues`: messages waiting, in flight and delayed, and the age of the oldest, per queue."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table

from taskqueue_cli.options import JsonLines, Local, Stage, target
from taskqueue_cli.output import examples
from taskqueue_cli.queues import QueueStats, read_all
from taskqueue_cli.target import Target

EXAMPLES = examples(
    "taskqueue queues",
    "taskqueue queues --watch --interval 5",
    "taskqueue queues --stage prod --json",
)


def render(stats: list[QueueStats]) -> Table:
    """One row per queue."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("queue")
    table.add_column("name")
    for heading in ("visible", "in flight", "delayed", "oldest"):
        table.add_column(heading, justify="right")
    for row in stats:
        table.add_row(
            row.queue,
            row.name,
            str(row.visible),
            str(row.in_flight),
            str(row.delayed),
            age_text(row.oldest_age_seconds),
        )
    return table


def age_text(seconds: float | None) -> str:
    """`42s`, `3m05s`, `2h01m`; `-` when unknown."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def queues(
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh the table until Ctrl-C.")
    ] = False,
    interval: Annotated[float, typer.Option(help="With --watch: seconds between reads.")] = 2.0,
    as_json: JsonLines = False,
    stage: Stage = None,
    local: Local = False,
) -> None:
    """Show each queue and its DLQ: visible, in flight, delayed, oldest message.

    Counts come from SQS GetQueueAttributes; the age of the oldest message from CloudWatch's
    one-minute metric ApproximateAgeOfOldestMessage (`-` without a recent datapoint, as on
    the local stack).
    """
    stack = target(stage, local)
    if as_json:
        for row in read_all(stack):
            typer.echo(json.dumps(asdict(row)))
        return
    console = Console()
    if not watch:
        console.print(render(read_all(stack)))
        return
    with until_interrupted() as interrupted:
        refresh(stack, console, interval, interrupted)


@contextlib.contextmanager
def until_interrupted() -> Iterator[threading.Event]:
    """An event Ctrl-C (SIGINT) sets, instead of raising KeyboardInterrupt wherever the main
    thread is: raised inside an import (boto3 imports lazily as each read makes its clients),
    it can leave a module lock held, and the process then hangs on its way out."""
    interrupted = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda _signal, _frame: interrupted.set())
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def refresh(stack: Target, console: Console, interval: float, interrupted: threading.Event) -> None:
    """Redraw the table every `interval` seconds until Ctrl-C (`interrupted`): the read under
    way ends first.

    On a terminal the table is redrawn in place; in a pipe or a log each read is a new table.
    """
    if not console.is_interactive:
        while not interrupted.is_set():
            console.print(render(read_all(stack)))
            interrupted.wait(interval)
        return
    with Live(render(read_all(stack)), console=console, auto_refresh=False) as live:
        while not interrupted.wait(interval):
            live.update(render(read_all(stack)), refresh=True)
