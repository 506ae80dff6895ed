"""Celery on SQS: every setting the design depends on."""

from __future__ import annotations

from celery import Celery
from flask import Flask
from kombu import Queue
from taskqueue.runtime.celery_config import broker_url, celery_config
from taskqueue.settings import Settings


def test_broker_is_bare_sqs_on_aws_and_the_endpoint_host_locally() -> None:
    assert broker_url(Settings(aws_endpoint_url=None)) == "sqs://"
    assert broker_url(Settings(aws_endpoint_url="http://127.0.0.1:4566")) == "sqs://127.0.0.1:4566"


def test_the_queue_is_predefined_and_never_declared() -> None:
    settings = Settings(task_queue_name="jobs", task_queue_url="https://sqs/1/jobs")
    config = celery_config(settings)

    assert config["broker_transport_options"]["predefined_queues"] == {
        "jobs": {"url": "https://sqs/1/jobs"}
    }
    assert config["task_default_queue"] == "jobs"
    [queue] = config["task_queues"]
    assert isinstance(queue, Queue) and queue.name == "jobs" and queue.no_declare


def test_long_polling_without_a_sleep_between_polls() -> None:
    options = celery_config(Settings())["broker_transport_options"]

    assert options["wait_time_seconds"] == 20
    assert options["polling_interval"] == 0


def test_late_ack_and_failures_left_to_the_dead_letter_queue() -> None:
    config = celery_config(Settings())

    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["task_acks_on_failure_or_timeout"] is False
    assert config["worker_prefetch_multiplier"] == 1


def test_remote_control_and_events_are_off() -> None:
    config = celery_config(Settings())

    assert config["worker_enable_remote_control"] is False
    assert config["worker_send_task_events"] is False
    assert config["task_send_sent_event"] is False


def test_json_only() -> None:
    config = celery_config(Settings())

    assert config["task_serializer"] == config["result_serializer"] == "json"
    assert config["accept_content"] == config["result_accept_content"] == ["json"]


def test_time_limits_results_and_shutdown_come_from_settings() -> None:
    settings = Settings(
        task_soft_time_limit=50,
        task_time_limit=60,
        queue_visibility_timeout=90,
        task_max_duration=30,
        result_expires=3600,
        results_table="r",
        aws_region="eu-west-1",
    )
    config = celery_config(settings)

    assert (config["task_soft_time_limit"], config["task_time_limit"]) == (50, 60)
    assert config["task_track_started"] is False  # the idempotency claim writes STARTED
    assert config["result_expires"] == 3600
    assert config["result_backend"].endswith("dynamodb://@eu-west-1/r?ttl_seconds=3600")
    assert config["worker_soft_shutdown_timeout"] == settings.worker_soft_shutdown_timeout
    # Celery has no such setting: the idempotency lease reads it from the settings.
    assert "queue_visibility_timeout" not in config


def test_the_broker_and_backend_clients_time_out_after_1_s_and_2_s_and_try_twice(
    app: Flask,
) -> None:
    """tests/faults/README.md: bounded SDK timeouts, so a silent endpoint is a 503 in seconds."""
    celery: Celery = app.extensions["celery"]
    with celery.connection_for_write() as connection:
        broker = connection.default_channel.sqs(queue=celery.conf.task_default_queue)
    backend = celery.backend.client

    for client in (broker, backend):
        config = client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (1, 2)
        assert config.retries["total_max_attempts"] == 2
