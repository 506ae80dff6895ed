"""Following a task: the statuses until a final state, and the bar they draw."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from taskqueue_cli.errors import CliError
from taskqueue_cli.watch import follow, watch


def scripted(*states: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    answers = iter(states)
    return lambda: next(answers)


def status(state: str, current: int | None = None, total: int = 3) -> dict[str, Any]:
    progress = None if current is None else {"current": current, "total": total}
    return {"id": "t", "state": state, "progress": progress, "result": None, "error": None}


def test_follow_stops_at_the_first_final_state() -> None:
    read = scripted(status("PENDING"), status("PROGRESS", 1), status("FAILURE"), status("X"))

    seen = [s["state"] for s in follow(read, interval=0, timeout=None, sleep=lambda _: None)]

    assert seen == ["PENDING", "PROGRESS", "FAILURE"]


def test_follow_gives_up_after_the_timeout() -> None:
    clock = iter(range(100))

    with pytest.raises(CliError, match=r"^the task is still PENDING after 5 s$"):
        list(
            follow(
                lambda: status("PENDING"),
                interval=1,
                timeout=5,
                clock=lambda: next(clock),
                sleep=lambda _: None,
            )
        )


def test_the_bar_reaches_100_percent_and_each_change_is_a_line_in_a_log() -> None:
    out = io.StringIO()
    read = scripted(
        status("PENDING"),
        status("STARTED"),
        status("PROGRESS", 1),
        status("PROGRESS", 1),
        status("PROGRESS", 2),
        status("SUCCESS"),
    )

    final = watch(read, Console(file=out, width=100), interval=0)

    assert final["state"] == "SUCCESS"
    lines = out.getvalue().splitlines()
    assert lines[:4] == ["PENDING", "STARTED", "PROGRESS 1/3", "PROGRESS 2/3"]
    assert lines[4].startswith("SUCCESS ") and "100%" in lines[4] and "3/3" in lines[4]
    assert len(lines) == 5
