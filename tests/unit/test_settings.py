"""The settings object: read from the environment, refusing limits that repeat work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from taskqueue.settings import Settings


def test_each_field_is_read_from_the_upper_cased_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASK_QUEUE_NAME", "orders")
    monkeypatch.setenv("QUEUE_VISIBILITY_TIMEOUT", "600")
    monkeypatch.setenv("TASK_TIME_LIMIT", "500")

    settings = Settings()

    assert settings.task_queue_name == "orders"
    assert settings.queue_visibility_timeout == 600
    assert settings.task_time_limit == 500


def test_defaults_keep_every_limit_inside_the_next() -> None:
    settings = Settings()

    assert (
        settings.task_max_duration
        < settings.task_soft_time_limit
        < settings.task_time_limit
        < settings.queue_visibility_timeout
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task_time_limit": 130, "queue_visibility_timeout": 130}, "runs twice"),
        ({"task_time_limit": 200, "queue_visibility_timeout": 130}, "QUEUE_VISIBILITY_TIMEOUT"),
        ({"task_soft_time_limit": 100, "task_time_limit": 100}, "TASK_TIME_LIMIT"),
        ({"task_max_duration": 90, "task_soft_time_limit": 90}, "TASK_SOFT_TIME_LIMIT"),
    ],
)
def test_limits_that_could_outlive_the_visibility_timeout_are_refused(
    overrides: dict[str, int], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**overrides)


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        Settings().task_queue_name = "other"  # type: ignore[misc]
