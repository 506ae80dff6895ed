"""Several queues: each task routed to its queue, one queue per worker, each queue made locally
with its own DLQ, `make run`'s worker per queue, schedules and presence on the task's queue."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from kombu import Queue
from taskqueue.catalogue.schedules import Schedule
from taskqueue.factory import consumed_queue, declared_queues, load_catalogue
from taskqueue.runtime.celery_config import celery_config
from taskqueue.settings import Settings, SettingsError
from taskqueue.stores.worker_presence import presence_update, retire_update
from taskqueue.tasks.long_task import LongTaskParams

from devstack.local_scheduler import fire
from devstack.procfile import read_procfile, with_queue_workers
from harness.stack import REPO_ROOT
from tests.unit.conftest import QUEUE_URL

REPORTS_URL = f"{QUEUE_URL}-reports"


def test_the_shipped_catalogue_declares_the_default_queue_first_then_reports(
    settings: Settings,
) -> None:
    assert declared_queues(settings) == ["default", "reports"]


def test_each_task_goes_to_its_own_queue_predefined_and_never_declared(
    settings: Settings,
) -> None:
    config = celery_config(settings, load_catalogue(settings).values())

    assert config["broker_transport_options"]["predefined_queues"] == {
        "taskqueue-tasks": {"url": QUEUE_URL},
        "taskqueue-tasks-reports": {"url": REPORTS_URL},
    }
    queues = config["task_queues"]
    assert all(isinstance(queue, Queue) and queue.no_declare for queue in queues)
    assert [queue.name for queue in queues] == ["taskqueue-tasks", "taskqueue-tasks-reports"]
    assert config["task_routes"]["report"] == {"queue": "taskqueue-tasks-reports"}
    assert config["task_routes"]["noop"] == {"queue": "taskqueue-tasks"}
    assert config["task_default_queue"] == "taskqueue-tasks"


def test_a_deployed_queue_is_where_queues_says(settings: Settings) -> None:
    deployed = "https://sqs.eu-west-1.amazonaws.com/1/stack-ReportsQueue"
    given = Settings.from_values(
        queues=json.dumps({"reports": {"url": deployed, "dlq_url": f"{deployed}-dlq"}})
    )
    config = celery_config(given, load_catalogue(settings).values())

    assert config["broker_transport_options"]["predefined_queues"]["taskqueue-tasks-reports"] == {
        "url": deployed
    }


def test_on_aws_a_declared_queue_without_a_url_in_queues_is_refused(settings: Settings) -> None:
    from web_service.web_app import create_app

    with pytest.raises(SettingsError, match=r"QUEUES gives no URL for the queue\(s\) reports"):
        create_app(settings.model_copy(update={"queues": {}}))


def test_a_worker_consumes_the_one_queue_it_is_given(settings: Settings) -> None:
    reports = consumed_queue(settings.model_copy(update={"worker_queue": "reports"}))

    assert (reports.name, reports.url, reports.dlq_url) == (
        "taskqueue-tasks-reports",
        REPORTS_URL,
        f"{REPORTS_URL}-dlq",
    )
    assert consumed_queue(settings).url == QUEUE_URL


def test_a_worker_of_a_queue_no_task_uses_is_refused_naming_the_declared_ones(
    settings: Settings,
) -> None:
    with pytest.raises(SettingsError, match=r"WORKER_QUEUE is 'reprots' but no task is sent"):
        consumed_queue(settings.model_copy(update={"worker_queue": "reprots"}))


def test_each_declared_queue_is_made_redriving_into_its_own_dlq(
    sqs: Any, settings: Settings
) -> None:
    attributes = sqs.get_queue_attributes(QueueUrl=REPORTS_URL, AttributeNames=["All"])[
        "Attributes"
    ]
    dlq = sqs.get_queue_attributes(QueueUrl=f"{REPORTS_URL}-dlq", AttributeNames=["QueueArn"])

    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["Attributes"]["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == settings.max_receive_count
    assert int(attributes["VisibilityTimeout"]) == settings.queue_visibility_timeout


def test_make_run_starts_a_worker_per_declared_queue() -> None:
    entries = read_procfile(REPO_ROOT / "Procfile")

    expanded = with_queue_workers(entries, ["default", "reports"], ".local/worker-heartbeat")

    assert expanded["worker"] == entries["worker"]
    assert expanded["worker-reports"] == [
        "env",
        "WORKER_QUEUE=reports",
        "WORKER_HEARTBEAT_FILE=.local/worker-heartbeat-reports",
        *entries["worker"],
    ]
    assert set(expanded) - set(entries) == {"worker-reports"}


def test_a_schedule_fires_to_its_task_s_own_queue(sqs: Any, settings: Settings) -> None:
    spec = load_catalogue(settings)["report"]
    nightly = Schedule("nightly", spec, LongTaskParams(duration=1), "rate(1 day)")

    fire(sqs, settings, nightly, datetime.now(UTC).replace(microsecond=0))

    [message] = sqs.receive_message(QueueUrl=REPORTS_URL)["Messages"]
    body = json.loads(message["Body"])
    assert body["headers"]["task"] == "report"
    assert body["properties"]["delivery_info"]["routing_key"] == "taskqueue-tasks-reports"
    assert "Messages" not in sqs.receive_message(QueueUrl=QUEUE_URL)


def test_get_workers_names_each_worker_s_queue(app: Flask, client: FlaskClient) -> None:
    backend = app.extensions["celery"].backend
    window = app.extensions["taskqueue.settings"].worker_presence_window
    for worker, queue in (("w1", "default"), ("w2", "reports"), ("w3", "reports")):
        backend.client.update_item(
            **presence_update(
                backend.table_name,
                worker=worker,
                queue=queue,
                concurrency=1,
                running=[],
                version="0.1.0",
                last_receive=None,
                now=time.time(),
                window=window,
            )
        )
    backend.client.update_item(**retire_update(backend.table_name, "w3", time.time(), "reports"))

    workers = client.get("/workers").json["workers"]

    assert [(w["worker"], w["queue"]) for w in workers] == [("w1", "default"), ("w2", "reports")]
