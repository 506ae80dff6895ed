"""Follow one task through GET /tasks/<id> and draw its progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from taskqueue_cli.errors import CliError

# The states a task never leaves, and the exit code each one means.
FINAL_STATES = {"SUCCESS": 0, "FAILURE": 1, "REVOKED": 1}


def follow(
    read_status: Callable[[], dict[str, Any]],
    interval: float,
    timeout: float | None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Each status `read_status` answers, until a final state (or an error after `timeout`)."""
    deadline = None if timeout is None else clock() + timeout
    while True:
        status = read_status()
        yield status
        if status["state"] in FINAL_STATES:
            return
        if deadline is not None and clock() >= deadline:
            raise CliError(f"the task is still {status['state']} after {timeout:g} s")
        sleep(interval)


def watch(
    read_status: Callable[[], dict[str, Any]],
    console: Console,
    interval: float = 0.5,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Draw the bar until the task ends; its last status.

    On a terminal the bar is live; otherwise (a pipe, a log) each change is one line and the
    bar is drawn once, at the end.
    """
    columns = (
        TextColumn("{task.description:<8}"),
        BarColumn(bar_width=30),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    status: dict[str, Any] = {}
    seen: list[str] = []
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("PENDING", total=None)
        for status in follow(read_status, interval, timeout):
            state, steps = status["state"], status.get("progress")
            if steps:
                progress.update(
                    bar, description=state, total=steps["total"], completed=steps["current"]
                )
            elif state == "SUCCESS":
                total = progress.tasks[0].total or 1
                progress.update(bar, description=state, total=total, completed=total)
            else:
                progress.update(bar, description=state)
            line = f"{state} {steps['current']}/{steps['total']}" if steps else state
            # The bar itself shows the final state.
            changed = not seen or seen[-1] != line
            if changed and not console.is_interactive and state not in FINAL_STATES:
                console.print(line, highlight=False)
            seen.append(line)
    return status
