"""The status page's shell and fragments with Flask's test client, against in-process moto."""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from flask import Flask
from flask.testing import FlaskClient
from taskqueue.runtime import dead_letters
from taskqueue.runtime.run_once import claim
from taskqueue.stores.results import mark_queued
from taskqueue.stores.task_list import TaskSummary
from taskqueue.stores.worker_presence import RunningTask, presence_update
from web_service import status_view

from tests.unit.conftest import CLIENT, QUEUE_URL

DLQ_URL = QUEUE_URL.replace("taskqueue-tasks", "taskqueue-tasks-dlq")
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def count(html: str, name: str) -> str:
    """The text of the panel's count `name` (visible, in-flight, delayed, dlq)."""
    found = re.search(rf'<dd id="count-{name}">([^<]*)</dd>', html)
    assert found, html
    return found.group(1)


def test_the_page_is_a_sign_in_form_and_no_data(anonymous: FlaskClient) -> None:
    response = anonymous.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.text
    assert 'id="sign-in"' in html and 'type="password"' in html
    assert 'id="panel"></div>' in html  # empty until the script fetches it with a key
    assert "count-" not in html
    assert "<script>" not in html  # no inline script: the CSP allows only the file
    assert re.search(r'<script src="/assets/status\.js" defer></script>', html)


@pytest.mark.parametrize("path", ["/", "/assets/status.js", "/assets/status.css"])
def test_the_page_and_its_files_send_the_security_headers(
    anonymous: FlaskClient, path: str
) -> None:
    with anonymous.get(path) as response:  # a file's body stays open until closed
        assert response.status_code == 200
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/status/panel", "/status/tasks/t-1", "/status/nothing"])
def test_without_a_key_the_fragments_are_a_401_and_no_data(
    anonymous: FlaskClient, path: str
) -> None:
    response = anonymous.get(path)

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["Cache-Control"] == "no-store"
    assert "count-" not in response.text


def test_the_panel_counts_both_queues_and_is_never_cached(client: FlaskClient, sqs: Any) -> None:
    for _ in range(2):
        assert client.post("/tasks", json={"task": "noop"}).status_code == 202
    sqs.send_message(QueueUrl=DLQ_URL, MessageBody="dead")

    response = client.get("/status/panel")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    html = response.text
    assert (count(html, "visible"), count(html, "in-flight"), count(html, "delayed")) == (
        "2",
        "0",
        "0",
    )
    assert count(html, "dlq") == "1"


def test_the_panel_counts_each_queue_apart(client: FlaskClient, sqs: Any) -> None:
    assert client.post("/tasks", json={"task": "noop"}).status_code == 202
    for _ in range(3):
        report = {"task": "report", "params": {"duration": 1}}
        assert client.post("/tasks", json=report).status_code == 202
    sqs.send_message(QueueUrl=DLQ_URL.replace("-dlq", "-reports-dlq"), MessageBody="dead")

    html = client.get("/status/panel").text

    assert 'id="queue-default"' in html and 'id="queue-reports"' in html
    assert (count(html, "visible"), count(html, "dlq")) == ("1", "0")
    assert (count(html, "reports-visible"), count(html, "reports-dlq")) == ("3", "1")


def task_row(html: str, task_id: str) -> str:
    """The panel's table row of one task."""
    found = re.search(rf'<tr id="task-{task_id}".*?</tr>', html, re.S)
    assert found, html
    return found.group(0)


def test_the_panel_lists_the_client_s_tasks_with_progress_and_cancel(
    app: Flask, client: FlaskClient
) -> None:
    celery = app.extensions["celery"]
    for task_id in ("t-queued", "t-running", "t-done"):
        mark_queued(celery, task_id, CLIENT, task="long_task")
    mark_queued(celery, "t-theirs", "someone-else", task="long_task")
    celery.backend.store_result("t-running", {"current": 2, "total": 5}, "PROGRESS")
    celery.backend.store_result("t-done", {"duration": 5}, "SUCCESS")

    html = client.get("/status/panel").text

    queued, running, done = (task_row(html, t) for t in ("t-queued", "t-running", "t-done"))
    assert 'data-state="PENDING"' in queued and 'data-cancel="t-queued"' in queued
    assert '<progress max="5" value="2"></progress>' in running
    assert 'data-cancel="t-running"' in running
    assert 'data-state="SUCCESS"' in done and "data-cancel" not in done
    assert 'data-task-link="t-done"' in done
    assert "t-theirs" not in html


def test_a_dead_lettered_task_is_finished_and_its_detail_says_why(
    app: Flask, client: FlaskClient
) -> None:
    celery = app.extensions["celery"]
    mark_queued(celery, "t-dead", CLIENT, task="long_task")
    run = claim(SimpleNamespace(app=celery, request=SimpleNamespace(id="t-dead", hostname="w1")), 0)
    dead_letters.record(celery.backend, "t-dead", run.attempt, "worker lost 5 times", None, {})

    row = task_row(client.get("/status/panel").text, "t-dead")
    detail = client.get("/status/tasks/t-dead").text

    assert 'data-state="DEAD_LETTERED"' in row and "data-cancel" not in row
    assert 'class="state state-dead_lettered"' in row
    assert '<span class="reason">worker lost 5 times</span>' in detail


def test_counts_that_cannot_be_read_show_unavailable_not_an_error(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(**_: Any) -> dict[str, Any]:
        raise EndpointConnectionError(endpoint_url="http://sqs.invalid")

    client.get("/status/panel")  # makes the panel's SQS client
    monkeypatch.setattr(app.extensions["status.sqs"], "get_queue_attributes", down)

    response = client.get("/status/panel")

    assert response.status_code == 200
    assert count(response.text, "visible") == "unavailable"
    assert count(response.text, "dlq") == "unavailable"


def test_tasks_and_workers_that_cannot_be_read_show_unavailable(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(**_: Any) -> dict[str, Any]:
        raise EndpointConnectionError(endpoint_url="http://dynamodb.invalid")

    monkeypatch.setattr(app.extensions["celery"].backend.client, "query", down)

    response = client.get("/status/panel")

    assert response.status_code == 200
    assert 'id="tasks-unavailable"' in response.text
    assert 'id="workers-unavailable"' in response.text
    assert count(response.text, "visible") == "0"


def test_the_task_detail_escapes_a_hostile_result_and_error(
    app: Flask, client: FlaskClient
) -> None:
    celery = app.extensions["celery"]
    for task_id in ("t-result", "t-error"):
        mark_queued(celery, task_id, CLIENT)
    celery.backend.store_result("t-result", {"text": HOSTILE}, "SUCCESS")
    celery.backend.store_result("t-error", RuntimeError(HOSTILE), "FAILURE")

    for task_id in ("t-result", "t-error"):
        response = client.get(f"/status/tasks/{task_id}")

        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "<script>" not in response.text and "<img" not in response.text
        assert "&lt;script&gt;alert(" in response.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in response.text


def test_the_task_detail_of_another_client_s_task_is_404(app: Flask, client: FlaskClient) -> None:
    mark_queued(app.extensions["celery"], "t-theirs", "someone-else")
    app.extensions["celery"].backend.store_result("t-theirs", {"secret": 1}, "SUCCESS")

    response = client.get("/status/tasks/t-theirs")

    assert response.status_code == 404
    assert "secret" not in response.text


def test_the_key_is_never_logged(
    client: FlaskClient, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    client.get("/status/panel")
    client.get("/status/tasks/never-queued")

    assert caplog.records
    logged = caplog.text + " ".join(str(vars(record)) for record in caplog.records)
    assert api_key not in logged
    assert "Bearer" not in logged


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.4, "0 s"), (-2, "0 s"), (59.9, "59 s"), (125, "2 min 5 s"), (3 * 3600 + 190, "3 h 3 min")],
)
def test_durations_read_as_people_say_them(seconds: float, shown: str) -> None:
    assert status_view.duration(seconds) == shown


def test_the_panel_counts_waiting_in_flight_and_delayed_each_from_its_own_attribute(
    client: FlaskClient, sqs: Any
) -> None:
    for body in ("a", "b", "c", "d", "e"):
        sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=body)
    sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=2, VisibilityTimeout=600)
    sqs.send_message(QueueUrl=QUEUE_URL, MessageBody="later", DelaySeconds=600)

    html = client.get("/status/panel").text

    # README: Waiting is ApproximateNumberOfMessages, In flight ...NotVisible, Delayed ...Delayed.
    assert (count(html, "visible"), count(html, "in-flight"), count(html, "delayed")) == (
        "3",
        "2",
        "1",
    )


def test_the_panel_reads_each_queue_once_per_refresh(app: Flask, client: FlaskClient) -> None:
    client.get("/status/panel")  # makes the panel's SQS client
    calls: list[str] = []
    app.extensions["status.sqs"].meta.events.register(
        "before-call.sqs", lambda model, **_: calls.append(model.name)
    )

    client.get("/status/panel")

    # Each declared queue (default, reports) and its DLQ.
    assert calls == ["GetQueueAttributes"] * 4


def test_the_panel_shows_each_worker_s_busy_slots_and_only_the_client_s_tasks_on_it(
    app: Flask, client: FlaskClient
) -> None:
    backend = app.extensions["celery"].backend
    backend.client.update_item(
        **presence_update(
            backend.table_name,
            worker="w1",
            queue="reports",
            concurrency=2,
            running=[RunningTask("mine0001-x", CLIENT), RunningTask("their002-x", "someone-else")],
            version="0.1.0",
            last_receive=time.time() - 1,
            now=time.time(),
            window=app.extensions["taskqueue.settings"].worker_presence_window,
        )
    )

    html = client.get("/status/panel").text

    row = re.search(r'<tr data-worker="w1">.*?</tr>', html, re.S)
    assert row, html
    assert "2 / 2" in row.group(0)  # busy slots / pool size
    assert "<td>reports</td>" in row.group(0)  # the queue it consumes
    assert "mine0001" in row.group(0) and "their002" not in html


def test_the_panel_lists_the_client_s_20_newest_tasks(app: Flask, client: FlaskClient) -> None:
    celery = app.extensions["celery"]
    for n in range(21):
        mark_queued(celery, f"t-{n:02}", CLIENT, task="noop")
        time.sleep(0.002)  # each queued later than the one before

    html = client.get("/status/panel").text

    listed = re.findall(r'<tr id="task-(t-\d\d)"', html)
    assert listed == [f"t-{n:02}" for n in range(20, 0, -1)]  # the oldest, t-00, is not


def test_the_page_s_policy_has_every_directive_the_readme_names(anonymous: FlaskClient) -> None:
    readme = (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'"
    )  # services/web/README.md

    directives = set(anonymous.get("/").headers["Content-Security-Policy"].split("; "))

    assert set(readme.split("; ")) <= directives


@pytest.mark.parametrize(
    ("state", "seconds"),
    [("SUCCESS", 30), ("FAILURE", 30), ("REVOKED", 30), ("PROGRESS", 100), ("PENDING", 100)],
)
def test_run_time_ends_at_the_last_change_once_finished_and_is_now_until_then(
    state: str, seconds: float
) -> None:
    """services/web/README.md: from queueing to the last change once it ended, else to now."""
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    queued = now.timestamp() - 100
    task = TaskSummary("t", "long_task", state, queued, queued + 30, None)
    panel = status_view.Panel(queues=[], workers=None, tasks=[task], now=now)

    assert panel.run_time(task) == seconds
