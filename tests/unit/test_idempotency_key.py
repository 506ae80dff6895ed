"""The `Idempotency-Key` header of the queueing routes, with Flask's test client against
in-process moto (the real local stack: tests/e2e/test_idempotency_key.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from taskqueue.catalogue.registry import TASKS
from taskqueue.settings import Settings
from taskqueue.stores import idempotency, waiting
from taskqueue.stores.idempotency import Recorded
from web_service.idempotency import KeyedRequest, keyed, sending_window
from web_service.problems import ProblemError

from tests.unit.conftest import CLIENT, QUEUE_URL, authorized, new_client_key
from tests.unit.test_web_tasks import received

BODY = {"task": "long_task", "params": {"duration": 2}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The unit tests' settings with a cap of 2 waiting tasks per client."""
    return settings.model_copy(update={"client_max_waiting": 2})


def post(client: FlaskClient, key: str | None, body: Any = BODY) -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post("/tasks", json=body, headers=headers)


def started(app: Flask, task_id: str) -> None:
    """A state written after the web's record, as the worker's claim writes STARTED."""
    app.extensions["celery"].backend.store_result(task_id, None, "STARTED")


def waiting_count(dynamodb: Any, settings: Settings) -> int:
    key = waiting.counter_key(CLIENT)
    item = dynamodb.get_item(TableName=settings.results_table, Key=key)["Item"]
    return int(item[waiting.COUNT_ATTRIBUTE]["N"])


def test_a_repeat_gets_the_first_answer_queues_nothing_and_holds_no_slot(
    app: Flask, client: FlaskClient, sqs: Any, dynamodb: Any, settings: Settings
) -> None:
    first = post(client, "order-1")
    repeat = post(client, "order-1")  # the first's send was answered: its record says so
    started(app, first.json["id"])
    repeats = [repeat, *(post(client, "order-1", dict(reversed(BODY.items()))) for _ in range(2))]

    assert first.status_code == 202
    for repeat in repeats:
        assert (repeat.status_code, repeat.json) == (202, first.json)
        assert repeat.headers["Location"] == first.headers["Location"]
    assert len(received(sqs)) == 1
    assert waiting_count(dynamodb, settings) == 1


def test_a_repeat_while_the_first_may_still_be_sending_is_409(
    app: Flask, settings: Settings
) -> None:
    key = keyed(app.extensions["celery"], CLIENT, "k-409", BODY)
    assert isinstance(key, KeyedRequest)
    sending = Recorded(key.digest, sending_since=time.time())

    with pytest.raises(ProblemError) as in_flight:
        key.answer(sending)

    assert in_flight.value.status == 409
    assert 1 <= int(in_flight.value.headers["Retry-After"]) <= sending_window(settings)


def test_a_record_older_than_the_sending_window_is_answered(app: Flask, settings: Settings) -> None:
    key = keyed(app.extensions["celery"], CLIENT, "k", BODY)
    assert isinstance(key, KeyedRequest)
    long_ago = Recorded(key.digest, sending_since=time.time() - sending_window(settings) - 1)

    assert key.answer(long_ago) == key.task_id


def test_the_same_key_with_another_body_is_422_and_queues_nothing(
    client: FlaskClient, sqs: Any
) -> None:
    first = post(client, "k-422")
    other = post(client, "k-422", {"task": "long_task", "params": {"duration": 3}})

    assert first.status_code == 202
    assert other.status_code == 422 and other.mimetype == "application/problem+json"
    assert "Idempotency-Key" in other.json["title"]
    assert len(received(sqs)) == 1


def test_keys_are_per_client(app: Flask, client: FlaskClient, settings: Settings) -> None:
    other = authorized(app, new_client_key(settings, "other"))

    mine, theirs = post(client, "shared-key"), post(other, "shared-key")

    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json["id"] != theirs.json["id"]
    assert client.get(theirs.headers["Location"]).status_code == 404


def test_the_quoted_form_is_the_same_key(client: FlaskClient, app: Flask) -> None:
    bare = post(client, 'a"b')
    started(app, bare.json["id"])

    quoted = post(client, '"a\\"b"')

    assert (quoted.status_code, quoted.json) == (202, bare.json)


@pytest.mark.parametrize(
    "key", ["", '""', "x" * 256, '"unterminated', "schlüssel", '"tab\\t"', " ", "a\tb", "a,b"]
)
def test_a_malformed_key_is_400_and_queues_nothing(client: FlaskClient, sqs: Any, key: str) -> None:
    response = client.post("/tasks", json=BODY, headers=[("Idempotency-Key", key)])

    assert response.status_code == 400, key
    assert response.mimetype == "application/problem+json"
    assert response.json["title"] == "Invalid Idempotency-Key"
    assert "Messages" not in sqs.receive_message(QueueUrl=QUEUE_URL)


def test_two_keys_in_one_request_are_400(client: FlaskClient) -> None:
    headers = [("Idempotency-Key", "a"), ("Idempotency-Key", "b")]

    response = client.post("/tasks", json=BODY, headers=headers)

    assert response.status_code == 400  # they arrive joined, "a, b": no bare key has a comma
    assert "Send one Idempotency-Key" in response.json["detail"]


def test_keys_of_1_to_255_characters_are_taken(client: FlaskClient) -> None:
    for key in ("k", "k" * 255, '"with, comma"', "8e03978e-40d5-43e8-bc93-6894a57f9324"):
        response = post(client, key)
        assert response.status_code == 202, key
        client.delete(response.headers["Location"])  # its slot back: the cap is 2


def test_a_request_that_fails_validation_records_nothing(client: FlaskClient) -> None:
    invalid = post(client, "fix-me", {"task": "long_task", "params": {"duration": 0}})

    fixed = post(client, "fix-me")

    assert invalid.status_code == 422
    assert fixed.status_code == 202


def test_a_repeat_at_the_cap_still_gets_its_answer(
    app: Flask, client: FlaskClient, dynamodb: Any, settings: Settings
) -> None:
    first, _ = post(client, "capped"), post(client, "fills-the-cap")
    started(app, first.json["id"])  # a state written, the slot still held (no claim here)

    repeat, new = post(client, "capped"), post(client, "one-more")

    assert (repeat.status_code, repeat.json) == (202, first.json)
    assert new.status_code == 429
    assert waiting_count(dynamodb, settings) == 2


def test_a_failed_send_releases_the_key_and_a_retry_queues_the_task(
    client: FlaskClient,
    sqs: Any,
    dynamodb: Any,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("SQS is not there")

    monkeypatch.setattr(TASKS["long_task"].task, "apply_async", refuse)
    failed = post(client, "retry-me")
    monkeypatch.undo()
    task_id = idempotency.task_id_for(CLIENT, "retry-me")
    after_failure = client.get(f"/tasks/{task_id}").status_code
    listed = client.get("/tasks").json["items"]

    retried = post(client, "retry-me")

    assert failed.status_code == 503
    assert after_failure == 404 and listed == []  # released: nothing shows
    assert (retried.status_code, retried.json["id"]) == (202, task_id)
    assert len(received(sqs)) == 1
    assert waiting_count(dynamodb, settings) == 1


def test_a_cancelled_tasks_key_still_answers_its_id(client: FlaskClient, app: Flask) -> None:
    first = post(client, "cancel-me")
    cancelled = client.delete(first.headers["Location"])

    repeat = post(client, "cancel-me")
    other = post(client, "cancel-me", {"task": "noop"})

    assert cancelled.json["state"] == "REVOKED"
    assert (repeat.status_code, repeat.json) == (202, first.json)
    assert other.status_code == 422


def test_the_seed_route_takes_the_key_as_post_tasks_does(
    client: FlaskClient, app: Flask, sqs: Any
) -> None:
    seed = client.get("/sqs/celery/2", headers={"Idempotency-Key": "seed"})
    started(app, seed.json["id"])

    posted = post(client, "seed")
    other = client.get("/sqs/celery/3", headers={"Idempotency-Key": "seed"})

    assert (posted.status_code, posted.json) == (202, seed.json)
    assert other.status_code == 422
    assert len(received(sqs)) == 1


def test_a_released_record_is_given_up_only_while_nothing_wrote_since(
    app: Flask, dynamodb: Any, settings: Settings
) -> None:
    celery = app.extensions["celery"]
    put = celery.backend.state_put("t1", celery.backend.state_meta("t1", "PENDING"), client="c")
    put["Item"]["timestamp"] = {"N": "1"}
    idempotency.claim(dynamodb, put, "digest", time.time())
    celery.backend.store_result("t1", None, "STARTED")  # the worker got the message after all

    assert idempotency.release(dynamodb, put, time.time()) is False
    with pytest.raises(idempotency.KeyInUse) as repeat:
        idempotency.claim(dynamodb, dict(put, Item=dict(put["Item"])), "digest", time.time())
    assert repeat.value.record == Recorded("digest", sending_since=None)


def test_the_task_id_is_the_clients_and_keys_alone() -> None:
    assert idempotency.task_id_for("a", "k") == idempotency.task_id_for("a", "k")
    assert idempotency.task_id_for("a", "k") != idempotency.task_id_for("b", "k")
    assert idempotency.fingerprint({"a": 1, "b": [1, 2]}) == idempotency.fingerprint(
        {"b": [1, 2], "a": 1}
    )


def test_the_queueing_routes_document_the_header_and_its_answers(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]

    for operation in (paths["/tasks"]["post"], paths["/sqs/celery/{duration}"]["get"]):
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        assert [p["name"] for p in headers] == ["Idempotency-Key"]
        assert {"400", "409", "422"} <= set(operation["responses"])


def test_the_sending_window_covers_every_attempt_of_the_send(settings: Settings) -> None:
    slow = settings.model_copy(
        update={"aws_client_connect_timeout": 1.0, "aws_client_read_timeout": 30.0}
    )

    assert sending_window(settings) == 2 * 2 * (1 + 2) + 1  # PutObject and SendMessage
    assert sending_window(slow) == 2 * 2 * (1 + 30) + 1
