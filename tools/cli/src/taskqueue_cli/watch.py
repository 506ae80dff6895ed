"""Follow one task through GET /tasks/<id> and draw its progress bar; draw (and follow) the
bars of a list of tasks from GET /tasks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from taskqueue_cli.errors import CliError

# The states a task never leaves, and the exit code each one means.
FINAL_STATES = {"SUCCESS": 0, "FAILURE": 1, "REVOKED": 1, "DEAD_LETTERED": 1}


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
            line = update_bar(progress, bar, status)
            # The bar itself shows the final state.
            changed = not seen or seen[-1] != line
            if changed and not console.is_interactive and status["state"] not in FINAL_STATES:
                console.print(line, highlight=False)
            seen.append(line)
    return status


def update_bar(progress: Progress, bar: TaskID, status: dict[str, Any]) -> str:
    """Show one task's status on its bar; the status as one line (`PROGRESS 2/5`)."""
    state, steps = status["state"], status.get("progress")
    if steps:
        progress.update(bar, description=state, total=steps["total"], completed=steps["current"])
    elif state == "SUCCESS":
        total = next(task.total for task in progress.tasks if task.id == bar) or 1
        progress.update(bar, description=state, total=total, completed=total)
    else:
        progress.update(bar, description=state)
    return f"{state} {steps['current']}/{steps['total']}" if steps else state


def watch_list(
    read_items: Callable[[], list[dict[str, Any]]],
    console: Console,
    *,
    follow_on: bool,
    interval: float = 1.0,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """One bar per listed task (GET /tasks' items), drawn once; with `follow_on`, redrawn
    every `interval` until every task shown is in a final state (tasks queued meanwhile are
    added below). The last items read.

    Off a terminal the bars are drawn once at the end, and with `follow_on` each change is
    one line before them, as `watch` does.
    """
    columns = (
        TextColumn("{task.fields[id]}"),
        TextColumn("{task.fields[name]:<10}"),
        TextColumn("{task.description:<8}"),
        BarColumn(bar_width=20),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[queued]}"),
    )
    deadline = None if timeout is None else clock() + timeout
    bars: dict[str, TaskID] = {}
    lines: dict[str, str] = {}
    with Progress(*columns, console=console) as progress:
        while True:
            items = read_items()
            for item in items:
                if item["id"] not in bars:
                    bars[item["id"]] = progress.add_task(
                        item["state"],
                        total=None,
                        id=item["id"],
                        name=item["task"],
                        queued=item["queued_at"],
                    )
                line = update_bar(progress, bars[item["id"]], item)
                changed = lines.get(item["id"]) != line
                # The bar itself shows the final state.
                logged = follow_on and not console.is_interactive
                if logged and changed and item["state"] not in FINAL_STATES:
                    console.print(f"{item['id']} {line}", highlight=False)
                lines[item["id"]] = line
            finished = all(item["state"] in FINAL_STATES for item in items)
            if not follow_on or finished:
                return items
            if deadline is not None and clock() >= deadline:
                raise CliError(f"tasks still unfinished after {timeout:g} s")
            sleep(interval)
