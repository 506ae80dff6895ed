"""Waiting for ECS: each change of the counts is reported until running = desired."""

from __future__ import annotations

import pytest
from taskqueue_cli.errors import CliError
from taskqueue_cli.workers import Bounds, Counts, check_within, wait_settled


def test_each_change_is_reported_until_the_service_settles() -> None:
    answers = iter(
        [Counts(1, 0, 3), Counts(1, 2, 3), Counts(1, 2, 3), Counts(3, 0, 3), Counts(9, 9, 9)]
    )
    reported: list[str] = []

    final = wait_settled(lambda: next(answers), lambda c: reported.append(str(c)), 60, 0)

    assert final == Counts(3, 0, 3)
    assert reported == [
        "running 1, pending 0, desired 3",
        "running 1, pending 2, desired 3",
        "running 3, pending 0, desired 3",
    ]


def test_a_service_that_does_not_settle_in_time_is_an_error() -> None:
    with pytest.raises(CliError, match=r"^still running 1, pending 2, desired 3 after 0 s"):
        wait_settled(lambda: Counts(1, 2, 3), lambda c: None, timeout=0, interval=0)


@pytest.mark.parametrize(("count", "allowed"), [(0, False), (1, True), (4, True), (5, False)])
def test_the_bounds_are_inclusive(count: int, allowed: bool) -> None:
    if allowed:
        check_within(count, Bounds(1, 4))
    else:
        with pytest.raises(CliError, match=f"^{count} is outside .* bounds 1..4"):
            check_within(count, Bounds(1, 4))


def test_without_bounds_any_count_is_allowed() -> None:
    check_within(1000, None)
