"""Entry point of the `taskqueue` command (being written)."""

import typer

app = typer.Typer(help="Operate the task queue.")
