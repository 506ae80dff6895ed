"""The settings reference (shared/README.md, beside settings.py) documents every variable."""

from __future__ import annotations

from pathlib import Path

from taskqueue.settings import Settings

SETTINGS_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "README.md"


def test_the_settings_reference_lists_every_settings_variable() -> None:
    text = SETTINGS_REFERENCE.read_text()

    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in text]

    assert missing == []
