"""Following a task: the statuses until a final state, and the bar they draw."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from taskqueue_cli.errors import CliError
from taskqueue_cli.watch import follow, watch, watch_list


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


def listed(task_id: str, state: str, current: int | None = None, total: int = 2) -> dict[str, Any]:
    """One item of GET /tasks."""
    progress = None if current is None else {"current": current, "total": total}
    return {
        "id": task_id,
        "task": "long_task",
        "state": state,
        "progress": progress,
        "queued_at": "2026-12-01T16:00:00.000Z",
        "updated_at": "2026-12-01T16:00:01.000Z",
    }


def test_a_list_draws_one_bar_per_task_once_without_following() -> None:
    out = io.StringIO()
    read = scripted([listed("b", "PROGRESS", 1), listed("a", "SUCCESS")], [])

    items = watch_list(read, Console(file=out, width=120), follow_on=False)

    assert [item["id"] for item in items] == ["b", "a"]
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("b long_task  PROGRESS") and "50%" in lines[0] and "1/2" in lines[0]
    assert lines[1].startswith("a long_task  SUCCESS") and "100%" in lines[1]
    assert lines[0].endswith("2026-12-01T16:00:00.000Z")


def test_a_followed_list_reads_until_every_task_is_final_and_adds_new_ones() -> None:
    out = io.StringIO()
    read = scripted(
        [listed("a", "PENDING")],
        [listed("b", "PENDING"), listed("a", "PROGRESS", 1)],
        [listed("b", "REVOKED"), listed("a", "SUCCESS")],
        [listed("a", "never read")],
    )

    items = watch_list(
        read, Console(file=out, width=120), follow_on=True, interval=0, sleep=lambda _: None
    )

    assert [item["state"] for item in items] == ["REVOKED", "SUCCESS"]
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["a PENDING", "b PENDING", "a PROGRESS 1/2"]
    assert [line.split()[:3] for line in lines[3:]] == [  # the bars, in the order seen
        ["a", "long_task", "SUCCESS"],
        ["b", "long_task", "REVOKED"],
    ]


def test_a_followed_list_gives_up_after_the_timeout() -> None:
    clock = iter(range(100))

    with pytest.raises(CliError, match=r"^tasks still unfinished after 3 s$"):
        watch_list(
            lambda: [listed("a", "PENDING")],
            Console(file=io.StringIO()),
            follow_on=True,
            timeout=3,
            clock=lambda: next(clock),
            sleep=lambda _: None,
        )
