"""Per-task time limits (`register`), checked against SQS's 12 hours like the settings."""

from __future__ import annotations

import pytest
from taskqueue.catalogue.registry import TASKS, TaskParams, TaskSpec, register
from taskqueue.settings import Settings, SettingsError


class NoParams(TaskParams):
    """No parameters."""


def spec(soft: object, hard: object) -> TaskSpec:
    return TaskSpec(
        name="report",
        task=TASKS["noop"].task,
        params=NoParams,
        summary="",
        soft_time_limit=soft,  # type: ignore[arg-type]
        time_limit=hard,  # type: ignore[arg-type]
    )


def test_a_task_without_its_own_limits_has_the_defaults() -> None:
    settings = Settings.from_values(task_soft_time_limit=40, task_time_limit=50)

    assert TASKS["noop"].time_limits(settings) == (40, 50)


def test_long_task_s_limits_follow_its_max_duration() -> None:
    settings = Settings.from_values(task_max_duration=3600)

    assert TASKS["long_task"].time_limits(settings) == (3690, 3700)


def test_own_limits_may_be_hours_and_outlast_the_base_visibility() -> None:
    settings = Settings.from_values(queue_visibility_timeout=60)

    assert spec(7000, lambda s: 2 * 3600).time_limits(settings) == (7000, 7200)


@pytest.mark.parametrize(
    ("soft", "hard", "message"),
    [
        (100, 43_201, r"report's time_limit \(43201\) is above 12 hours"),
        (200, 200, r"report's soft_time_limit \(200\) must be below its time_limit \(200\)"),
    ],
)
def test_own_limits_that_cannot_work_are_refused(soft: int, hard: int, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        spec(soft, hard).time_limits(Settings())


def test_register_refuses_a_limit_above_12_hours_at_once() -> None:
    with pytest.raises(SettingsError, match="above 12 hours"):
        register(NoParams, time_limit=13 * 3600)
