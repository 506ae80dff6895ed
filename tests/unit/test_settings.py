"""The settings object: read from the environment, refusing limits that repeat work."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from taskqueue.settings import Settings

# What `make run` sets (README: only what differs from the defaults).
LOCAL_ENV = Path(__file__).resolve().parents[2] / "local.env"


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

    assert settings.task_soft_time_limit < settings.task_time_limit
    assert settings.task_max_duration >= 3600  # long_task: an hour by default
    assert 2 * settings.visibility_heartbeat_interval <= settings.queue_visibility_timeout
    assert settings.task_max_duration + settings.task_time_limit <= 12 * 3600


def test_a_heartbeat_lets_the_time_limit_outlast_the_base_visibility() -> None:
    settings = Settings(task_time_limit=7200, task_soft_time_limit=7000)

    assert settings.task_time_limit > settings.queue_visibility_timeout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task_soft_time_limit": 100, "task_time_limit": 100}, "TASK_TIME_LIMIT"),
        ({"task_soft_time_limit": 200, "task_time_limit": 43_201}, r"TASK_TIME_LIMIT \(43201\)"),
        (
            {"task_max_duration": 43_200 - 99},
            r"TASK_MAX_DURATION \+ TASK_TIME_LIMIT \(long_task's limit\) \(43201\) is above 12",
        ),
        (
            {"visibility_heartbeat_interval": 31, "queue_visibility_timeout": 60},
            "VISIBILITY_HEARTBEAT_INTERVAL \\(31\\) must fit twice inside QUEUE_VISIBILITY_TIMEOUT",
        ),
        (
            {"task_protection_renewal": 60, "task_protection_minutes": 1},
            "protection would lapse",
        ),
        (
            {"worker_presence_interval": 16, "worker_presence_window": 30},
            "WORKER_PRESENCE_INTERVAL \\(16\\) must fit twice inside WORKER_PRESENCE_WINDOW",
        ),
        ({"worker_presence_window": 61}, "less than or equal to 60"),
    ],
)
def test_limits_sqs_could_not_keep_are_refused(overrides: dict[str, int], message: str) -> None:
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


def test_delays_default_to_a_week_in_hops_of_sqs_maximum() -> None:
    settings = Settings()

    assert settings.task_max_delay == 7 * 86_400
    assert settings.delay_hop_seconds == 900


@pytest.mark.parametrize(
    "overrides",
    [
        {"delay_hop_seconds": 901},  # SQS refuses a DelaySeconds above 900
        {"delay_hop_seconds": 0},
        {"task_max_delay": 0},
        {"task_max_delay": 366 * 86_400},
    ],
)
def test_delay_settings_beyond_what_sqs_and_the_hops_carry_are_refused(
    overrides: dict[str, int],
) -> None:
    with pytest.raises(ValidationError):
        Settings.from_values(**overrides)


def test_the_dlq_url_is_the_one_given_or_the_dlq_name_beside_the_queue() -> None:
    local = Settings.from_values(task_queue_url="http://127.0.0.1:5555/123456789012/jobs")
    deployed = Settings.from_values(task_dlq_url="https://sqs.eu-west-1.amazonaws.com/1/dead")

    assert local.dlq_url == "http://127.0.0.1:5555/123456789012/taskqueue-tasks-dlq"
    assert deployed.dlq_url == "https://sqs.eu-west-1.amazonaws.com/1/dead"


def test_the_metrics_namespace_is_not_one_of_aws_own() -> None:
    assert Settings.from_values(metrics_namespace="TaskQueue/dev").metrics_namespace
    for namespace in ("AWS/SQS", "Task Queue", ""):
        with pytest.raises(ValidationError, match="metrics_namespace"):
            Settings.from_values(metrics_namespace=namespace)


def test_a_key_cache_longer_than_a_minute_is_refused() -> None:
    """A revoked key works at most API_KEY_CACHE_SECONDS: the reference promises 60 at most."""
    assert Settings.from_values(api_key_cache_seconds=60).api_key_cache_seconds == 60
    with pytest.raises(ValidationError, match="api_key_cache_seconds"):
        Settings.from_values(api_key_cache_seconds=61)


def test_local_env_sets_only_what_differs_from_the_defaults() -> None:
    """README: `local.env` holds only what differs for `make run`, and boto3's credentials."""
    variables = dict(
        line.split("=", 1)
        for line in LOCAL_ENV.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    settings, defaults = Settings.from_environment(variables), Settings.from_values()

    given = [name for name in variables if name.lower() in Settings.model_fields]
    assert given
    assert [n for n in given if getattr(settings, n.lower()) == getattr(defaults, n.lower())] == []
    assert all(name.startswith("AWS_") for name in set(variables) - set(given))
