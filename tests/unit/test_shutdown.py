"""Which running tasks a stopping worker hands back at once."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from worker_service.shutdown import may_outlast


def request(soft_limit: int | None, started: float, own: int | None = None) -> Any:
    return SimpleNamespace(
        time_limits=(None, own),
        time_start=started,
        task=SimpleNamespace(soft_time_limit=soft_limit),
    )


@pytest.mark.parametrize(
    ("soft_limit", "elapsed", "outlasts"),
    [
        (3690, 10, True),  # an hour-long long_task just started
        (90, 10, False),  # 80 s left inside a 105 s soft shutdown
        (200, 150, False),  # near its limit: it ends in time
        (None, 0, True),  # no limit: it may run on
    ],
)
def test_a_task_whose_soft_limit_outlasts_the_soft_shutdown_is_handed_back(
    soft_limit: int | None, elapsed: float, outlasts: bool
) -> None:
    assert may_outlast(request(soft_limit, 1000.0), 105, now=1000.0 + elapsed) is outlasts


def test_a_limit_given_with_the_message_counts_first() -> None:
    assert may_outlast(request(3690, 1000.0, own=60), 105, now=1000.0) is False
