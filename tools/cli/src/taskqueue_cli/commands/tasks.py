"""`enqueue`, `status`, `cancel` and `tasks list`: queue a task, follow it, read its state,
cancel it, list (and follow) the caller's tasks."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from taskqueue_cli.api import DEFAULT_TIMEOUT
from taskqueue_cli.options import ApiKey, JsonLines, Local, Stage, Url, target
from taskqueue_cli.output import echo_fields, examples
from taskqueue_cli.params import parse_params
from taskqueue_cli.watch import FINAL_STATES, watch, watch_list
from taskqueue_cli.web import WebClient

ENQUEUE_EXAMPLES = examples(
    "taskqueue enqueue long_task duration=3 --watch",
    "taskqueue enqueue noop",
    "taskqueue enqueue long_task duration=10 --stage prod",
)
STATUS_EXAMPLES = examples("taskqueue status 5f0c2a4e-…", "taskqueue status 5f0c2a4e-… --json")
LIST_EXAMPLES = examples(
    "taskqueue tasks list",
    "taskqueue tasks list --state PROGRESS --watch",
    "taskqueue tasks list --limit 50 --json",
    "taskqueue tasks list --cursor eyJpIjog…",
    "taskqueue tasks list --stage prod",
)

app = typer.Typer(
    help="The tasks of the calling client (its API key).",
    epilog=LIST_EXAMPLES,
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


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
    request_timeout: Annotated[
        float,
        typer.Option(
            envvar="TASKQUEUE_REQUEST_TIMEOUT",
            min=0.1,
            help="Seconds to wait for the web's answer before sending the POST again, with the"
            " same Idempotency-Key (3 tries).",
        ),
    ] = DEFAULT_TIMEOUT,
    stage: Stage = None,
    local: Local = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """Queue TASK with its KEY=VALUE parameters and print its id.

    A value is JSON when it parses as JSON (`duration=3` is a number), text otherwise.
    The POST carries a fresh Idempotency-Key; one whose answer does not come is sent again
    with it, so the task is queued once. With `--watch` the exit code is 0 on SUCCESS and 1
    on FAILURE (or REVOKED, or DEAD_LETTERED with its reason), with the task's error.
    """
    web = WebClient(target(stage, local, url).require_web(), api_key, request_timeout)
    task_id = web.enqueue(task, parse_params(params or []))
    typer.echo(task_id)
    if not watch_:
        return
    console = Console(highlight=False)
    final = watch(lambda: web.status(task_id), console, interval=interval, timeout=timeout)
    if final.get("result_url"):
        console.print(f"result_url: {final['result_url']}", soft_wrap=True)
    elif final["state"] == "SUCCESS":
        console.print(f"result: {json.dumps(final['result'])}")
    else:
        if final.get("reason"):
            console.print(f"dead-lettered: {final['reason']}")
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
    asked to stop: its worker stops it at its next visibility extension, and its state becomes
    REVOKED.
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
    if body.get("result_url"):  # a result too large to return inline: its presigned URL
        lines.append(("url", str(body["result_url"])))
    elif body["state"] == "SUCCESS":
        lines.append(("result", json.dumps(body.get("result"))))
    if body.get("reason"):
        lines.append(("reason", str(body["reason"])))
    if body.get("error"):
        lines.append(("error", str(body["error"])))
    return lines


@app.command("list", epilog=LIST_EXAMPLES)
def list_tasks(
    state: Annotated[
        str | None,
        typer.Option(help="Only tasks in this state, e.g. PROGRESS.", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Tasks to show.")] = 20,
    cursor: Annotated[
        str | None,
        typer.Option(help="Start after the page that printed this cursor.", show_default=False),
    ] = None,
    watch_: Annotated[
        bool,
        typer.Option("--watch", "-w", help="Redraw the bars until every task shown finished."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(help="With --watch: give up after this many seconds.", show_default=False),
    ] = None,
    interval: Annotated[float, typer.Option(help="With --watch: seconds between reads.")] = 1.0,
    as_json: JsonLines = False,
    stage: Stage = None,
    local: Local = False,
    url: Url = None,
    api_key: ApiKey = None,
) -> None:
    """List your tasks, newest first, with a progress bar each (GET /tasks).

    A longer list goes on with `--cursor` (the command prints the next one). With `--watch`
    the list is read again every `--interval` until every task shown is SUCCESS, FAILURE,
    REVOKED or DEAD_LETTERED (new tasks are added below).
    """
    web = WebClient(target(stage, local, url).require_web(), api_key)
    page: dict[str, Any] = {}

    def read() -> list[dict[str, Any]]:
        page.update(web.list_tasks(state, limit, cursor))
        items: list[dict[str, Any]] = page["items"]
        return items

    if as_json:
        for item in read():
            typer.echo(json.dumps(item))
        return
    console = Console(highlight=False)
    items = watch_list(read, console, follow_on=watch_, interval=interval, timeout=timeout)
    if not items:
        typer.echo("no tasks" + (f" in state {state}" if state else ""))
    if page.get("next_cursor"):  # one line, never wrapped: it is to be copied
        typer.echo(f"more: taskqueue tasks list --cursor {page['next_cursor']}")
