"""How every command writes its help examples and its `name  value` lines."""

from __future__ import annotations

from collections.abc import Iterable

import typer

# The width of the name column in `status`, `cancel` and `workers status`.
NAME_WIDTH = 9


def examples(*commands: str, note: str = "") -> str:
    """A command's `--help` epilog: `**Examples**` (and a note), then the commands as code."""
    heading = f"**Examples** ({note})" if note else "**Examples**"
    lines = "\n".join(commands)
    return f"{heading}\n\n```\n{lines}\n```\n"


def echo_fields(fields: Iterable[tuple[str, object]]) -> None:
    """Print one `name     value` line per field, the values in one column."""
    for name, value in fields:
        typer.echo(f"{name:<{NAME_WIDTH}}{value}")
