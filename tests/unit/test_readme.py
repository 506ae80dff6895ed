"""The settings reference (shared/README.md, beside settings.py) documents every variable and
its default, and README lists the tasks a deployment offers."""

from __future__ import annotations

import re
from pathlib import Path

from taskqueue.catalogue.registry import TASKS, offered
from taskqueue.settings import Settings

from tools import settings_reference

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_REFERENCE = ROOT / "shared" / "README.md"


def test_the_settings_reference_lists_every_settings_variable() -> None:
    text = SETTINGS_REFERENCE.read_text()

    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in text]

    assert missing == []


# A row of the reference: its variables, then their defaults, in the same order.
SETTINGS_ROW = re.compile(
    r"^\| (?P<names>`[A-Z0-9_]+`(?:, `[A-Z0-9_]+`)*) \| (?P<defaults>[^|]+) \|"
)
# How the reference writes a default that is not a value.
NO_VALUE = {"unset": None, "empty": ""}


def documented_defaults() -> dict[str, str | None]:
    """Each variable of the reference's table with the default it gives."""
    documented: dict[str, str | None] = {}
    for line in SETTINGS_REFERENCE.read_text().splitlines():
        if (row := SETTINGS_ROW.match(line)) is None:
            continue
        names = [name.strip("`") for name in row["names"].split(", ")]
        defaults = [cell.strip() for cell in row["defaults"].split(",")]
        assert len(names) == len(defaults), line
        for name, default in zip(names, defaults, strict=True):
            documented[name] = NO_VALUE[default] if default in NO_VALUE else default.strip("`")
    return documented


def as_documented(value: object) -> str | None:
    """A default as the reference would write it (booleans in lower case, whole seconds whole)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_the_settings_reference_gives_each_variable_its_default() -> None:
    documented = documented_defaults()

    assert set(documented) == {name.upper() for name in Settings.model_fields}
    wrong = {
        name: (default, as_documented(Settings.model_fields[name.lower()].default))
        for name, default in documented.items()
        if default != as_documented(Settings.model_fields[name.lower()].default)
    }
    assert wrong == {}  # variable: (the reference's default, the code's)


def test_the_settings_reference_is_written_from_the_declarations() -> None:
    """Every setting's row (variable, default, context key, where it applies, description) is
    `make docs`' output: a declaration changed without `make docs` fails here."""
    text = SETTINGS_REFERENCE.read_text()

    assert settings_reference.README == SETTINGS_REFERENCE
    assert text.count(settings_reference.BEGIN) == text.count(settings_reference.END) == 1
    assert settings_reference.rewrite(text) == text


def tasks_named_in(paragraph_start: str) -> set[str]:
    """The task names in backticks in README's paragraph that starts so."""
    paragraphs = (ROOT / "README.md").read_text().split("\n\n")
    (paragraph,) = [p for p in paragraphs if p.startswith(paragraph_start)]
    return set(re.findall(r"`([a-z_]+)`", paragraph))


def test_the_readme_lists_the_tasks_a_deployment_offers_by_default() -> None:
    shipped = set(offered(Settings.from_values()))  # the defaults: no diagnostic tasks

    assert tasks_named_in("Tasks: ") == shipped
    assert tasks_named_in("Diagnostic tasks") == set(TASKS) - shipped
