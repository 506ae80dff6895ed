"""The settings reference (shared/README.md, beside settings.py) documents every variable, and
README lists the tasks a deployment offers."""

from __future__ import annotations

import re
from pathlib import Path

from taskqueue.settings import Settings
from taskqueue.tasks import TASKS, offered

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_REFERENCE = ROOT / "shared" / "README.md"


def test_the_settings_reference_lists_every_settings_variable() -> None:
    text = SETTINGS_REFERENCE.read_text()

    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in text]

    assert missing == []


def tasks_named_in(paragraph_start: str) -> set[str]:
    """The task names in backticks in README's paragraph that starts so."""
    paragraphs = (ROOT / "README.md").read_text().split("\n\n")
    (paragraph,) = [p for p in paragraphs if p.startswith(paragraph_start)]
    return set(re.findall(r"`([a-z_]+)`", paragraph))


def test_the_readme_lists_the_tasks_a_deployment_offers_by_default() -> None:
    shipped = set(offered(Settings.from_values()))  # the defaults: no diagnostic tasks

    assert tasks_named_in("Tasks: ") == shipped
    assert tasks_named_in("Diagnostic tasks") == set(TASKS) - shipped
