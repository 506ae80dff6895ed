"""Every command explains itself with --help, examples included."""

from __future__ import annotations

import pytest
from taskqueue_cli.main import app
from typer.testing import CliRunner

COMMANDS = [
    [],
    ["enqueue"],
    ["status"],
    ["queues"],
    ["dlq"],
    ["dlq", "show"],
    ["dlq", "redrive"],
    ["dlq", "purge"],
    ["tasks"],
    ["tasks", "list"],
    ["workers"],
    ["workers", "list"],
    ["workers", "scale"],
    ["workers", "status"],
    ["keys"],
    ["keys", "create"],
    ["keys", "list"],
    ["keys", "revoke"],
    ["schedules"],
    ["schedules", "list"],
    ["schedules", "run"],
    ["verify"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "taskqueue")
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    result = CliRunner().invoke(
        app, [*command, "--help"], env={"COLUMNS": "120"}, prog_name="taskqueue"
    )

    assert result.exit_code == 0, result.output
    assert "Usage: taskqueue" in result.output
    assert "Examples" in result.output
    example = f"taskqueue {' '.join(command)}".strip()
    assert example in result.output.split("Examples", 1)[1]


@pytest.mark.parametrize(
    "command",
    [
        ["enqueue"],
        ["queues"],
        ["dlq", "show"],
        ["tasks", "list"],
        ["workers", "list"],
        ["workers", "scale"],
    ],
)
def test_commands_name_the_stack_they_operate(command: list[str]) -> None:
    result = CliRunner().invoke(
        app, [*command, "--help"], env={"COLUMNS": "120"}, prog_name="taskqueue"
    )

    assert "--stage" in result.output and "--local" in result.output
