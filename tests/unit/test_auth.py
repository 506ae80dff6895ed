"""Bearer keys on the routes that queue, read or cancel work; each client sees only its tasks."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from flask import Flask
from flask.testing import FlaskClient
from taskqueue.settings import Settings
from taskqueue.stores import api_keys

from tests.unit.conftest import CLIENT, QUEUE_URL, authorized, new_client_key

PROTECTED = [
    ("POST", "/tasks", {"json": {"task": "noop"}}),
    ("GET", "/tasks/5f0c2a4e-0000-4000-8000-000000000000", {}),
    ("DELETE", "/tasks/5f0c2a4e-0000-4000-8000-000000000000", {}),
    ("GET", "/sqs/celery/2", {}),
]
BAD_HEADERS = {
    "missing": {},
    "not bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    "empty": {"Authorization": "Bearer "},
    "malformed": {"Authorization": "Bearer not-a-key"},
    "unknown": {"Authorization": f"Bearer {api_keys.new_key()}"},
}


def queued(sqs: Any) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=QUEUE_URL, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


@pytest.mark.parametrize(("method", "path", "kwargs"), PROTECTED)
@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_without_a_valid_key_every_work_route_is_401_and_nothing_is_queued(
    anonymous: FlaskClient,
    sqs: Any,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    headers: dict[str, str],
) -> None:
    response = anonymous.open(path, method=method, headers=headers, **kwargs)

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["status"] == 401
    assert queued(sqs) == 0


def test_health_and_the_openapi_document_stay_open(anonymous: FlaskClient) -> None:
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/openapi.json").status_code == 200


def test_the_key_is_checked_before_the_body_is_parsed(anonymous: FlaskClient) -> None:
    response = anonymous.post("/tasks", data="{not json", content_type="text/plain")

    assert response.status_code == 401


def test_a_missing_or_malformed_key_never_reaches_the_table(
    anonymous: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_lookup(*args: Any) -> None:
        raise AssertionError("looked the key up")

    monkeypatch.setattr(api_keys, "lookup", no_lookup)

    assert anonymous.post("/tasks", json={"task": "noop"}).status_code == 401
    assert anonymous.get("/tasks/x", headers={"Authorization": "Bearer x"}).status_code == 401


def test_a_valid_key_queues(client: FlaskClient, sqs: Any) -> None:
    assert client.post("/tasks", json={"task": "noop"}).status_code == 202
    assert queued(sqs) == 1


def test_another_client_gets_404_for_a_task_exactly_as_for_an_unknown_id(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    task_id = client.post("/tasks", json={"task": "noop"}).json["id"]
    other = authorized(app, new_client_key(settings, "other"))
    unknown = "5f0c2a4e-0000-4000-8000-000000000000"

    for method in ("GET", "DELETE"):
        theirs = other.open(f"/tasks/{task_id}", method=method)
        never = other.open(f"/tasks/{unknown}", method=method)
        assert theirs.status_code == never.status_code == 404
        assert theirs.json == {
            **never.json,
            "detail": never.json["detail"].replace(unknown, task_id),
        }
    assert client.get(f"/tasks/{task_id}").json["state"] == "PENDING"  # not cancelled


def test_a_revoked_key_is_401_once_the_cache_expires(
    app: Flask, dynamodb: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_client_key(settings, "short-lived")
    client = authorized(app, key)
    assert client.get("/sqs/celery/1").status_code == 202

    assert api_keys.revoke(dynamodb, settings.results_table, "short-lived") == 1
    assert client.get("/sqs/celery/1").status_code == 202  # trusted for up to 30 s
    later = time.monotonic() + settings.api_key_cache_seconds + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)

    assert client.get("/sqs/celery/1").status_code == 401


def test_keys_are_stored_only_as_hashes(
    client: FlaskClient, api_key: str, dynamodb: Any, settings: Settings
) -> None:
    client.post("/tasks", json={"task": "noop"})

    items = dynamodb.scan(TableName=settings.results_table)["Items"]

    assert api_key not in repr(items)
    assert api_key[3:] not in repr(items)
    key_items = [item for item in items if item["id"]["S"].startswith("apikey#")]
    assert [item["id"]["S"] for item in key_items] == [f"apikey#{api_keys.key_hash(api_key)}"]


def test_the_request_log_names_the_client_never_the_key(
    client: FlaskClient, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client.post("/tasks", json={"task": "noop"})

    [access] = [r for r in caplog.records if r.name == "web_service.access"]
    assert access.client == CLIENT  # type: ignore[attr-defined]
    assert api_key not in caplog.text
    assert all(api_key not in repr(vars(record)) for record in caplog.records)


def test_use_is_recorded_at_most_once_a_minute(
    client: FlaskClient, dynamodb: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[float] = []
    record_use = api_keys.record_use
    monkeypatch.setattr(
        api_keys, "record_use", lambda *args: writes.append(args[4]) or record_use(*args)
    )

    for _ in range(3):
        client.get("/sqs/celery/1")

    assert len(writes) == 1
    [entry] = api_keys.list_keys(dynamodb, settings.results_table)
    assert entry.client == CLIENT and entry.last_used == writes[0]


def test_the_openapi_document_declares_the_bearer_scheme_and_the_401s(
    anonymous: FlaskClient,
) -> None:
    document = anonymous.get("/openapi.json").json

    [(name, scheme)] = document["components"]["securitySchemes"].items()
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, method in [
        ("/tasks", "post"),
        ("/tasks", "get"),
        ("/tasks/{task_id}", "get"),
        ("/tasks/{task_id}", "delete"),
        ("/sqs/celery/{duration}", "get"),
        ("/workers", "get"),
    ]:
        operation = document["paths"][path][method]
        assert operation["security"] == [{name: []}]
        assert set(operation["responses"]["401"]["content"]) == {"application/problem+json"}
    assert "security" not in document["paths"]["/healthz"]["get"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/tasks"), ("GET", "/tasks/a/b"), ("GET", "/sqs/celery/-1"), ("GET", "/sqs/x")],
)
def test_without_a_key_even_unrouted_work_paths_are_401(
    anonymous: FlaskClient, method: str, path: str
) -> None:
    assert anonymous.open(path, method=method).status_code == 401


def test_with_a_key_unrouted_work_paths_answer_as_before(client: FlaskClient) -> None:
    assert client.put("/tasks").status_code == 405
    assert client.get("/sqs/x").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "title"),
    [
        ("POST", "/tasks", "Queue unavailable"),
        ("GET", "/sqs/celery/1", "Queue unavailable"),
        ("GET", "/tasks/t1", "Results unavailable"),
        ("DELETE", "/tasks/t1", "Results unavailable"),
    ],
)
def test_while_the_table_is_down_a_key_is_a_503_as_the_route_gives_it(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, method: str, path: str, title: str
) -> None:
    def down(*args: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    monkeypatch.setattr(api_keys, "lookup", down)

    response = client.open(path, method=method, json={"task": "noop"})

    assert (response.status_code, response.json["title"]) == (503, title)


def test_a_client_that_rotates_its_key_keeps_its_tasks(
    app: Flask, dynamodb: Any, settings: Settings
) -> None:
    """tools/cli/README.md: rotate by revoke then create; a task's item names the client."""
    before = authorized(app, new_client_key(settings, "rotating"))
    task_id = before.post("/tasks", json={"task": "noop"}).json["id"]

    assert api_keys.revoke(dynamodb, settings.results_table, "rotating") == 1
    after = authorized(app, new_client_key(settings, "rotating"))

    assert after.get(f"/tasks/{task_id}").json["state"] == "PENDING"
    assert [item["id"] for item in after.get("/tasks").json["items"]] == [task_id]
