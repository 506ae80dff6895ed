"""`enqueue`, `status` and `cancel`: queue a task, follow it, read its state, cancel it."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from taskqueue_cli.options import ApiKey, Local, Stage, Url, target
from taskqueue_cli.output import echo_fields, examples
from taskqueue_cli.params import parse_params
from taskqueue_cli.watch import FINAL_STATES, watch
from taskqueue_cli.web import WebClient

ENQUEUE_EXAMPLES = examples(
    "taskqueue enqueue long_task duration=3 --watch",
    "taskqueue enqueue noop",
    "taskqueue enqueue long_task duration=10 --stage prod",
)
STATUS_EXAMPLES = examples("taskqueue status 5f0c2a4e-…", "taskqueue status 5f0c2a4e-… --json")


def enqueue(
    task: Annotated[str, typer.Argument(metavar="TASK", help="Task name, e.g. long_task.")],
    params: Annotated[
        list[str] | None,
        typer.Argument(metavar="KEY=VALUE...", help="The task's parameters.", show_default=False),
    ] = None,
    watch_: Annotated[
        bool,
        typer.Option("--watch", "-w", help="Show a progress bar until SUCCESS or FAILURE."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(help="With --watch: give up after this many seconds.", show_default=False),
    ] = None,
    interval: Annotated[float, typer.Option(help="With --watch: seconds between polls.")] = 0.5,
    stage: Stage = None,
    local: Local = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Queue TASK with its KEY=VALUE parameters and print its id.

    A value is JSON when it parses as JSON (`duration=3` is a number), text otherwise.
    With `--watch` the exit code is 0 on SUCCESS and 1 on FAILURE, with the task's error.
    """
    web = WebClient(target(stage, local, url).require_web(), api_key)
    task_id = web.enqueue(task, parse_params(params or []))
    typer.echo(task_id)
    if not watch_:
        return
    console = Console(highlight=False)
    final = watch(lambda: web.status(task_id), console, interval=interval, timeout=timeout)
    if final["state"] == "SUCCESS":
        console.print(f"result: {json.dumps(final['result'])}")
    else:
        console.print(f"error: {final.get('error') or final['state']}")
    raise typer.Exit(FINAL_STATES[final["state"]])


def status(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="The id `enqueue` printed.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw status JSON.")] = False,
    stage: Stage = None,
    local: Local = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Show one task's state, progress, result or error."""
    body = WebClient(target(stage, local, url).require_web(), api_key).status(task_id)
    if as_json:
        typer.echo(json.dumps(body))
        return
    echo_fields(describe(body))


def cancel(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="The id `enqueue` printed.")],
    stage: Stage = None,
    local: Local = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Cancel a task (exit 1 if it already finished).

    A queued task is REVOKED at once: the worker that receives it drops it. A running task is
    asked to stop: its worker stops it at its next heartbeat, and its state becomes REVOKED.
    """
    body = WebClient(target(stage, local, url).require_web(), api_key).cancel(task_id)
    lines = describe(body)
    if body["state"] != "REVOKED":  # running: asked to stop
        lines.append(("cancel", "requested: its worker stops it at its next heartbeat"))
    echo_fields(lines)


def describe(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The lines `status` prints: id and state always, then whatever the state has."""
    lines = [("id", str(body["id"])), ("state", str(body["state"]))]
    if steps := body.get("progress"):
        percent = 100 * steps["current"] // max(steps["total"], 1)
        lines.append(("progress", f"{steps['current']}/{steps['total']} ({percent}%)"))
    if body["state"] == "SUCCESS":
        lines.append(("result", json.dumps(body.get("result"))))
    if body.get("error"):
        lines.append(("error", str(body["error"])))
    return lines
