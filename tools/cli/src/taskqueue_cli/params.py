"""`key=value` words on the command line → a task's parameters."""

from __future__ import annotations

import json
from typing import Any

from taskqueue_cli.errors import CliError


def parse_params(words: list[str]) -> dict[str, Any]:
    """`["duration=3", "name=x"]` → `{"duration": 3, "name": "x"}`.

    A value is JSON when it parses as JSON (`3`, `true`, `[1, 2]`, `"3"`), text otherwise.
    """
    params: dict[str, Any] = {}
    for word in words:
        key, sep, raw = word.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError(f"bad parameter {word!r}: write key=value, e.g. duration=3")
        if key in params:
            raise CliError(f"parameter {key!r} is given twice")
        params[key] = _value(raw)
    return params


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw
