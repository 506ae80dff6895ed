"""`key=value` words become a task's parameters."""

from __future__ import annotations

from typing import Any

import pytest
from taskqueue_cli.errors import CliError
from taskqueue_cli.params import parse_params


@pytest.mark.parametrize(
    ("words", "params"),
    [
        ([], {}),
        (["duration=3"], {"duration": 3}),
        (["message=boom"], {"message": "boom"}),
        (['message="3"'], {"message": "3"}),
        (["flag=true", "ratio=0.5", "ids=[1, 2]"], {"flag": True, "ratio": 0.5, "ids": [1, 2]}),
        (["note=a=b"], {"note": "a=b"}),
        (["empty="], {"empty": ""}),
    ],
)
def test_values_are_json_when_they_parse_and_text_otherwise(
    words: list[str], params: dict[str, Any]
) -> None:
    assert parse_params(words) == params


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["duration"], "bad parameter 'duration': write key=value, e.g. duration=3"),
        (["=3"], "bad parameter '=3': write key=value, e.g. duration=3"),
        (["a=1", "a=2"], "parameter 'a' is given twice"),
    ],
)
def test_malformed_words_are_refused(words: list[str], message: str) -> None:
    with pytest.raises(CliError, match=f"^{message}$"):
        parse_params(words)
