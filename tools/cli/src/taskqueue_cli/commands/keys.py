"""`keys create|list|revoke`: the clients' API keys, in the results table (hashes only).

The operator's own AWS credentials write the table directly; no web task is involved and
nothing is redeployed. A revoked key stops working on every web task within
API_KEY_CACHE_SECONDS (30 s by default).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from taskqueue.stores import api_keys

from taskqueue_cli.errors import CliError
from taskqueue_cli.options import JsonLines, Local, Stage, target
from taskqueue_cli.output import echo_fields, examples

app = typer.Typer(
    help="The clients' API keys the web requires (stored as hashes in the results table).",
    epilog=examples(
        "taskqueue keys create billing",
        "taskqueue keys list --stage prod",
        "taskqueue keys revoke billing --stage prod",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

Name = Annotated[str, typer.Argument(metavar="NAME", help="The client, e.g. billing.")]


def when(epoch: float | None) -> str:
    """A time as UTC ISO 8601 to the second; `-` for never."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@app.command(epilog=examples("taskqueue keys create billing --stage prod"))
def create(name: Name, stage: Stage = None, local: Local = False) -> None:
    """Make client NAME and print its key, once: it is stored only as a hash.

    Give the key to the client; it sends `Authorization: Bearer <key>` (the CLI reads
    TASKQUEUE_API_KEY or --api-key).
    """
    stack = target(stage, local)
    try:
        key = api_keys.create(stack.client("dynamodb"), stack.require_table(), name)
    except api_keys.ClientNameError as error:
        raise CliError(str(error)) from None
    typer.echo(key)


@app.command("list", epilog=examples("taskqueue keys list", "taskqueue keys list --json"))
def list_(as_json: JsonLines = False, stage: Stage = None, local: Local = False) -> None:
    """Show each client, when its key was made and last used (never the key)."""
    stack = target(stage, local)
    entries = api_keys.list_keys(stack.client("dynamodb"), stack.require_table())
    for entry in entries:
        if as_json:
            row = {"client": entry.client, "created": when(entry.created)}
            typer.echo(json.dumps({**row, "last_used": when(entry.last_used)}))
        else:
            typer.echo(
                f"{entry.client:<24} created {when(entry.created)}"
                f"  last used {when(entry.last_used)}"
            )
    if not entries and not as_json:
        typer.echo("no clients: `taskqueue keys create NAME` makes one")


@app.command(epilog=examples("taskqueue keys revoke billing --stage prod"))
def revoke(name: Name, stage: Stage = None, local: Local = False) -> None:
    """Delete client NAME's key: every web task refuses it within API_KEY_CACHE_SECONDS."""
    stack = target(stage, local)
    revoked = api_keys.revoke(stack.client("dynamodb"), stack.require_table(), name)
    if not revoked:
        raise CliError(f"no client named {name!r} (`taskqueue keys list` shows them)")
    echo_fields([("revoked", name), ("keys", revoked)])
