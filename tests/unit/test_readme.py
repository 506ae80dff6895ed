"""README documents every environment variable the settings read."""

from __future__ import annotations

from pathlib import Path

from taskqueue.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_settings_variable() -> None:
    text = README.read_text()

    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in text]

    assert missing == []
