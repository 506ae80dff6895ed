"""GET /tasks: the caller's tasks newest first, a page at a time, from the index, never a Scan."""

from __future__ import annotations

import base64
import itertools
import json
from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from flask import Flask
from flask.testing import FlaskClient
from taskqueue.stores import results, task_list
from taskqueue.stores.results_index import INDEX_NAME
from taskqueue.stores.task_list import InvalidCursor, list_tasks

from tests.unit.conftest import CLIENT, authorized, new_client_key


@pytest.fixture
def celery(app: Flask) -> Celery:
    celery_app: Celery = app.extensions["celery"]
    return celery_app


def queue(client: FlaskClient, count: int, task: str = "noop") -> list[str]:
    """Queue `count` tasks through the web; their ids, oldest first."""
    body: dict[str, Any] = {"task": task}
    if task == "long_task":
        body["params"] = {"duration": 1}
    return [client.post("/tasks", json=body).json["id"] for _ in range(count)]


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def test_the_list_is_newest_first_with_name_state_and_times(client: FlaskClient) -> None:
    older = queue(client, 1, "long_task")
    newer = queue(client, 1)

    page = client.get("/tasks").json

    assert ids(page) == newer + older
    assert page["next_cursor"] is None
    first = page["items"][0]
    assert (first["task"], first["state"], first["progress"]) == ("noop", "PENDING", None)
    assert page["items"][1]["task"] == "long_task"
    assert first["queued_at"].endswith("Z") and first["updated_at"] >= first["queued_at"]


def test_pages_follow_the_cursor_to_the_end_without_gaps_or_repeats(client: FlaskClient) -> None:
    queued = queue(client, 7)

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        page = client.get("/tasks", query_string=query).json
        seen += ids(page)
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(queued))
    assert pages == 3


def test_a_state_filter_reads_on_until_the_page_is_full(
    client: FlaskClient, celery: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_list, "FILTERED_READ", 2)  # each Query reads 2 items
    queued = queue(client, 12)
    done = queued[1::4]  # 3 of 12, far apart: a Query page holds at most one
    for task_id in done:
        celery.backend.store_result(task_id, None, "SUCCESS")

    first = client.get("/tasks", query_string={"state": "SUCCESS", "limit": 2}).json
    rest = client.get(
        "/tasks", query_string={"state": "SUCCESS", "limit": 2, "cursor": first["next_cursor"]}
    ).json

    assert ids(first) == [done[2], done[1]]
    assert ids(rest) == [done[0]]
    assert rest["next_cursor"] is None
    assert {item["state"] for item in first["items"] + rest["items"]} == {"SUCCESS"}


def test_a_rare_state_reads_a_bounded_number_of_queries_and_gives_a_cursor_to_go_on(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_list, "FILTERED_READ", 2)
    queue(client, 12)

    query = {"state": "FAILURE", "limit": 2}
    first = client.get("/tasks", query_string=query).json
    rest = client.get("/tasks", query_string={**query, "cursor": first["next_cursor"]})

    assert first["items"] == [] and first["next_cursor"] is not None  # read 5 x 2 of 12
    assert rest.json == {"items": [], "next_cursor": None}


def test_progress_shows_from_the_clear_attribute_and_a_cancelled_task_stays_listed(
    client: FlaskClient, celery: Celery
) -> None:
    running, cancelled = queue(client, 2)
    celery.backend.store_result(running, {"current": 2, "total": 5}, "PROGRESS")
    assert client.delete(f"/tasks/{cancelled}").status_code == 200

    items = {item["id"]: item for item in client.get("/tasks").json["items"]}

    assert items[running]["progress"] == {"current": 2, "total": 5}
    assert items[running]["state"] == "PROGRESS"
    assert items[cancelled]["state"] == "REVOKED"
    celery.backend.store_result(running, None, "SUCCESS")
    assert client.get(f"/tasks/{running}").json["progress"] is None
    assert client.get("/tasks").json["items"][1]["progress"] is None


def test_another_client_sees_none_of_the_tasks_and_cannot_use_their_cursor(
    app: Flask, client: FlaskClient, celery: Celery
) -> None:
    queue(client, 3)
    cursor = client.get("/tasks", query_string={"limit": 1}).json["next_cursor"]
    other = authorized(app, new_client_key(app.extensions["taskqueue.settings"], "other"))
    mine = queue(other, 1)

    assert ids(other.get("/tasks").json) == mine
    refused = other.get("/tasks", query_string={"cursor": cursor})
    assert refused.status_code == 422
    assert refused.json["errors"][0]["field"] == "cursor"
    with pytest.raises(InvalidCursor):
        list_tasks(celery, "other", cursor=cursor)
    assert len(list_tasks(celery, CLIENT, cursor=cursor).items) == 2


def forged(fields: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"state": "DONE"}, "state"),
        ({"state": "pending"}, "state"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": "e30"}, "cursor"),  # {}
        ({"cursor": forged({"i": "a b", "c": CLIENT, "t": "1"})}, "cursor"),
        ({"cursor": forged({"i": "a", "c": CLIENT, "t": "nan"})}, "cursor"),
        ({"cursor": forged({"i": "a", "c": CLIENT, "t": " 1"})}, "cursor"),
        ({"cursor": forged({"i": "a", "c": CLIENT, "t": "1e-200"})}, "cursor"),
        ({"cursor": forged({"i": "a", "c": CLIENT, "t": "1_000"})}, "cursor"),
        ({"cursor": forged({"i": "a", "c": CLIENT, "t": 1})}, "cursor"),
        ({"cursor": "x" * 301}, "cursor"),
    ],
)
def test_bad_limit_state_or_cursor_is_a_422_problem(
    client: FlaskClient, query: dict[str, str], field: str
) -> None:
    response = client.get("/tasks", query_string=query)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert [error["field"] for error in response.json["errors"]] == [field]


def test_the_list_queries_the_index_and_never_scans(
    client: FlaskClient, celery: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue(client, 2)
    dynamodb = celery.backend.client
    calls: list[tuple[str, dict[str, Any]]] = []
    for operation in ("query", "scan"):
        real = getattr(dynamodb, operation)

        def record(_real: Any = real, _name: str = operation, **kwargs: Any) -> Any:
            calls.append((_name, kwargs))
            return _real(**kwargs)

        monkeypatch.setattr(dynamodb, operation, record)

    assert len(client.get("/tasks").json["items"]) == 2

    assert [(name, kwargs["IndexName"]) for name, kwargs in calls] == [("query", INDEX_NAME)]


def test_the_openapi_document_lists_the_list_with_its_query(client: FlaskClient) -> None:
    operation = client.get("/openapi.json").json["paths"]["/tasks"]["get"]

    assert {parameter["name"] for parameter in operation["parameters"]} == {
        "state",
        "limit",
        "cursor",
    }
    assert {"200", "401", "422", "503"} <= set(operation["responses"])
    assert operation["security"] == [{"bearerKey": []}]


def test_a_progress_of_another_shape_is_stored_and_listed_without_counts(
    client: FlaskClient, celery: Celery
) -> None:
    [task_id] = queue(client, 1)

    celery.backend.store_result(task_id, {"stage": "upload"}, "PROGRESS")

    [item] = client.get("/tasks").json["items"]
    assert (item["state"], item["progress"]) == ("PROGRESS", None)


def test_a_delayed_task_is_listed_as_scheduled_and_found_by_that_state(
    client: FlaskClient,
) -> None:
    now = queue(client, 1)
    later = client.post("/tasks", json={"task": "noop", "delay_seconds": 600}).json["id"]

    scheduled = client.get("/tasks?state=SCHEDULED")

    assert scheduled.status_code == 200, scheduled.json
    assert ids(scheduled.json) == [later]
    assert ids(client.get("/tasks?state=PENDING").json) == now


def test_a_page_holds_20_tasks_unless_a_limit_is_given(client: FlaskClient) -> None:
    queued = queue(client, 21)

    page = client.get("/tasks").json

    assert ids(page) == list(reversed(queued))[:20]  # shared/README.md: default 20
    assert page["next_cursor"] is not None


def test_a_task_is_queued_at_the_moment_its_record_was_last_updated(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One clock reading for both: a slow machine never lists a task updated before it was
    queued (seen on a loaded CI run: updated 1 ms before queued)."""
    ticks = itertools.count(1_800_000_000.0, 0.001)  # each reading a millisecond later
    monkeypatch.setattr(results, "time", SimpleNamespace(time=lambda: next(ticks)))
    queue(client, 1)

    (item,) = client.get("/tasks").json["items"]

    assert item["updated_at"] == item["queued_at"]
