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


def test_the_environment_of_settings_names_each_value_given_by_its_variable() -> None:
    settings = Settings.from_values(
        task_queue_url="https://sqs.eu-west-1.amazonaws.com/1/jobs",
        worker_soft_shutdown_timeout=105,
        queue_visibility_timeout="230",
        task_time_limit=200,
        task_soft_time_limit=150,
        aws_endpoint_url=None,
    )

    assert settings.environment() == {
        "TASK_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/jobs",
        "QUEUE_VISIBILITY_TIMEOUT": "230",
        "TASK_SOFT_TIME_LIMIT": "150",
        "TASK_TIME_LIMIT": "200",
        "WORKER_SOFT_SHUTDOWN_TIMEOUT": "105",
    }
    assert Settings.from_environment({**settings.environment(), "PATH": "/bin"}) == settings


def test_settings_from_values_ignore_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASK_TIME_LIMIT", "7")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")

    settings = Settings.from_values(task_queue_name="orders")

    assert (settings.task_queue_name, settings.task_time_limit) == ("orders", 100)
    assert settings.aws_endpoint_url is None
    assert settings.environment() == {"TASK_QUEUE_NAME": "orders"}


def test_settings_from_values_refuse_what_the_environment_would() -> None:
    with pytest.raises(ValidationError, match=r"TASK_SOFT_TIME_LIMIT \(200\) must be below"):
        Settings.from_values(task_soft_time_limit=200, task_time_limit=100)
