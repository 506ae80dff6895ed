"""The per-client count of waiting tasks (taskqueue.stores.waiting) against in-process moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from flask.testing import FlaskClient
from taskqueue.catalogue.registry import TASKS
from taskqueue.settings import Settings
from taskqueue.stores import waiting
from taskqueue.stores.results import CLIENT_ATTRIBUTE, SLOT_ATTRIBUTE

NOW = 1_800_000_000.0
HORIZON = 100


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The unit tests' settings with a cap of 2 waiting tasks per client."""
    return settings.model_copy(update={"client_max_waiting": 2})


@pytest.fixture
def dynamodb(aws: None, settings: Settings) -> Any:
    return boto3.client("dynamodb", region_name=settings.aws_region)


def count(dynamodb: Any, table: str, owner: str) -> int | None:
    item = dynamodb.get_item(TableName=table, Key=waiting.counter_key(owner)).get("Item")
    return None if item is None else int(item[waiting.COUNT_ATTRIBUTE]["N"])


def test_a_client_is_admitted_up_to_its_cap_and_refused_past_it(
    dynamodb: Any, settings: Settings
) -> None:
    table = settings.results_table
    admitted = [waiting.admit(dynamodb, table, "a", 2, HORIZON, now=NOW) for _ in range(3)]

    assert admitted == [True, True, False]
    assert count(dynamodb, table, "a") == 2
    assert waiting.admit(dynamodb, table, "b", 2, HORIZON, now=NOW)


def test_a_slot_given_back_by_either_writer_admits_again_and_never_below_zero(
    dynamodb: Any, settings: Settings
) -> None:
    table = settings.results_table
    for _ in range(2):
        waiting.admit(dynamodb, table, "a", 2, HORIZON, now=NOW)

    waiting.release(dynamodb, table, "a")  # the worker's UpdateItem
    assert waiting.admit(dynamodb, table, "a", 2, HORIZON, now=NOW)
    waiting.give_back(dynamodb, table, "a", now=NOW)  # the web's GetItem and PutItem
    waiting.release(dynamodb, table, "a")
    waiting.release(dynamodb, table, "a")
    waiting.give_back(dynamodb, table, "a", now=NOW)

    assert count(dynamodb, table, "a") == 0
    waiting.release(dynamodb, table, "never-queued")
    assert count(dynamodb, table, "never-queued") is None


def test_a_counter_past_its_horizon_counts_as_zero(dynamodb: Any, settings: Settings) -> None:
    table = settings.results_table
    for _ in range(2):
        waiting.admit(dynamodb, table, "a", 2, HORIZON, now=NOW)
    assert not waiting.admit(dynamodb, table, "a", 2, HORIZON, now=NOW + HORIZON - 1)

    assert waiting.admit(dynamodb, table, "a", 2, HORIZON, now=NOW + HORIZON)
    assert count(dynamodb, table, "a") == 1


def test_the_horizon_is_the_longest_life_of_a_counted_tasks_item() -> None:
    assert waiting.horizon_seconds(task_max_delay=7 * 86_400, result_expires=86_400) == (8 * 86_400)


def test_a_task_that_ends_waiting_unclaimed_gives_its_slot_back_once(
    dynamodb: Any, settings: Settings
) -> None:
    table = settings.results_table
    waiting.admit(dynamodb, table, "a", 2, HORIZON, now=NOW)
    key = {"id": {"S": "task-item"}}
    item = {**key, CLIENT_ATTRIBUTE: {"S": "a"}, SLOT_ATTRIBUTE: {"BOOL": True}}
    dynamodb.put_item(TableName=table, Item=item)

    waiting.end_waiting(dynamodb, table, key, "task-item")
    waiting.end_waiting(dynamodb, table, key, "task-item")

    assert count(dynamodb, table, "a") == 0
    assert SLOT_ATTRIBUTE not in dynamodb.get_item(TableName=table, Key=key)["Item"]


def test_a_send_that_failed_gives_its_slot_back(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("SQS is not there")

    monkeypatch.setattr(TASKS["noop"].task, "apply_async", refuse)
    failed = [client.post("/tasks", json={"task": "noop"}).status_code for _ in range(3)]
    monkeypatch.undo()

    answers = [client.post("/tasks", json={"task": "noop"}).status_code for _ in range(3)]

    assert failed == [503, 503, 503]
    assert answers == [202, 202, 429]


def test_the_queueing_routes_document_their_429(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]

    assert "429" in paths["/tasks"]["post"]["responses"]
    assert "429" in paths["/sqs/celery/{duration}"]["get"]["responses"]
