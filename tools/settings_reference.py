"""Write the settings reference (shared/README.md#settings) from the settings' declarations.

    uv run python -m tools.settings_reference           # rewrite it (make docs)
    uv run python -m tools.settings_reference --check   # exit 1 if the README is not its output

Each setting is declared once: a runtime setting as a field of `taskqueue.settings.Settings`,
an infrastructure one as a field of `infra.config.InfraConfig`. This writes one row for
each, with its variable, default, context key, where it applies and its description, between
the two markers below; the prose around them is written by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from taskqueue.settings import Settings, applies_to, set_elsewhere, used_by_stack

from infra.config import NOT_FROM_CONTEXT, InfraConfig

README = Path(__file__).resolve().parents[1] / "shared" / "README.md"
BEGIN = (
    "<!-- settings reference: `make docs` writes it from taskqueue/settings.py and"
    " infra/config.py; edit those, not this -->"
)
END = "<!-- end of the settings reference -->"
NOT_SETTINGS = ("stage", "runtime_overrides")
"""InfraConfig fields that are no setting: the stage is chosen, the overrides gathered."""


def documented(field: FieldInfo) -> str:
    """A field's default as the reference writes it (the unit test reads it back)."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, list | dict):
        text = json.dumps(value, default=str)
    else:
        text = str(value)
    return f"`{text}`"


def cell(text: str) -> str:
    """Text fit for one cell of a Markdown table."""
    return " ".join(text.split()).replace("|", "\\|")


def runtime_row(name: str) -> str:
    """The row of one runtime setting (a `Settings` field)."""
    field = Settings.model_fields[name]
    elsewhere = set_elsewhere(name)
    key = f"none ({elsewhere.by})" if elsewhere else f"`{to_camel(name)}`"
    used = used_by_stack(name)
    applies = f"{applies_to(name)}: {used.how}" if used else applies_to(name)
    return (
        f"| `{name.upper()}` | {documented(field)} | {cell(key)} | {cell(applies)} "
        f"| {cell(field.description or '')} |"
    )


def infrastructure_row(name: str) -> str:
    """The row of one infrastructure setting (an `InfraConfig` field)."""
    field = InfraConfig.model_fields[name]
    return (
        f"| — | {documented(field)} | `{field.alias or to_camel(name)}` | infrastructure "
        f"| {cell(field.description or '')} |"
    )


def render() -> str:
    """The reference: the table, then how a stage sets the settings."""
    elsewhere = ", ".join(f"`{name.upper()}`" for name in NOT_FROM_CONTEXT)
    return "\n".join(
        [
            BEGIN,
            "",
            "| Variable | Default | Context key | Applies to | Meaning |",
            "| --- | --- | --- | --- | --- |",
            *(runtime_row(name) for name in Settings.model_fields),
            *(
                infrastructure_row(name)
                for name in InfraConfig.model_fields
                if name not in NOT_SETTINGS
            ),
            "",
            "On AWS every variable above is set per stage from context, under its context key:"
            " in the stage's block of `cdk.json` or with `-c` (`-c webWorkers=8`,"
            " `-c diagnosticTasks=true`); unset, its default. The variables with no context"
            f" key are set as the table says: {elsewhere}. A context key that names no setting"
            ' fails `cdk synth` with the nearest one (`-c workerMaxCont=5`: "did you mean'
            " 'workerMaxCount'?\").",
            "",
            END,
        ]
    )


def rewrite(text: str) -> str:
    """`text` with the reference between its markers replaced by `render()`."""
    before, found, rest = text.partition(BEGIN)
    _, ended, after = rest.partition(END)
    if not (found and ended):
        raise SystemExit(f"{README}: the markers of the settings reference are missing")
    return before + render() + after


def main(argv: list[str]) -> int:
    """Rewrite the README, or with --check say whether it is the declarations' output."""
    text = README.read_text(encoding="utf-8")
    written = rewrite(text)
    if "--check" in argv:
        if written != text:
            print(f"{README} is not the declarations' output: run `make docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(written, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
