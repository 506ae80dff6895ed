"""Parameters and results of any size, on the real local stack: a message over SQS's 1 MiB
travels with its body in the payload bucket (taskqueue.runtime.large_messages), a result over
RESULT_OFFLOAD_BYTES is kept there with a pointer in its item (taskqueue.stores.large_results),
and GET /tasks/<id> returns it inline or as a presigned URL."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from celery.result import AsyncResult
from taskqueue.stores.payloads import PARAMS_PREFIX, RESULT_URL_SECONDS, RESULTS_PREFIX, expiry_days
from taskqueue.stores.results import SLOT_ATTRIBUTE, table_backend

from devstack.diagnostic_tasks import sized_text
from harness.processes import wait_until
from harness.stack import LocalStack, running
from tests.e2e.conftest import producer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto, a worker and the web; a delay hops every second (the hops send the pointer on)."""
    with running(tmp_path_factory.mktemp("large"), DELAY_HOP_SECONDS="1") as local:
        yield local


def keys(stack: LocalStack, prefix: str) -> set[str]:
    """The payload bucket's object keys under `prefix`."""
    s3 = stack.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=stack.settings.payload_bucket, Prefix=prefix
    )
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def finished(stack: LocalStack, task_id: str, timeout: float = 60) -> dict[str, Any]:
    """The task's status body once it is SUCCESS or FAILURE."""
    api = stack.api(timeout=30)
    wait_until(
        lambda: api.state(task_id) in {"SUCCESS", "FAILURE"}, timeout, f"task {task_id} to end"
    )
    return api.status(task_id)


def digest(text: str) -> dict[str, Any]:
    """What param_digest returns for `text`."""
    return {"bytes": len(text.encode()), "sha256": hashlib.sha256(text.encode()).hexdigest()}


def test_a_2_mib_parameter_travels_through_the_bucket_and_the_task_sees_it_whole(
    stack: LocalStack,
) -> None:
    data = secrets.token_hex(MIB)  # 2 MiB of text
    before = keys(stack, PARAMS_PREFIX)

    task_id = stack.api(timeout=30).enqueue("param_digest", {"data": data})

    body = finished(stack, task_id)
    assert body["state"] == "SUCCESS", body
    assert body["result"] == digest(data)
    stored = keys(stack, PARAMS_PREFIX) - before
    assert [key.split("/")[1] for key in stored] == [task_id]  # its body, one object


def test_a_parameter_under_sqs_limit_stays_in_the_message(stack: LocalStack) -> None:
    # 400 KiB: over the web's and SQS's old 256 KiB; its message (base64 of JSON that holds the
    # task's body in base64: 16/9 of it) under SQS's 1 MiB
    data = secrets.token_hex(200 * 1024)
    before = keys(stack, PARAMS_PREFIX)

    task_id = stack.api(timeout=30).enqueue("param_digest", {"data": data})

    assert finished(stack, task_id)["result"] == digest(data)
    assert keys(stack, PARAMS_PREFIX) == before


def test_a_delayed_large_parameter_hops_with_its_pointer(stack: LocalStack) -> None:
    data = secrets.token_hex(MIB)
    before = keys(stack, PARAMS_PREFIX)

    response = stack.api(timeout=30).request(
        "POST",
        "/tasks",
        json={"task": "param_digest", "params": {"data": data}, "delay_seconds": 3},
    )
    assert response.status_code == 202, response.text[:500]
    task_id = response.json()["id"]

    body = finished(stack, task_id)
    assert body["result"] == digest(data)
    # Three hops of a second each, one object: a hop sends the pointer on, not the body.
    assert len(keys(stack, PARAMS_PREFIX) - before) == 1
    worker = next(process for process in stack.processes if process.name == "worker")
    assert "delayed again" in worker.log()


def test_a_task_whose_parameters_are_gone_fails_with_the_reason(stack: LocalStack) -> None:
    before = keys(stack, PARAMS_PREFIX)
    response = stack.api(timeout=30).request(
        "POST",
        "/tasks",
        json={
            "task": "param_digest",
            "params": {"data": secrets.token_hex(MIB)},
            "delay_seconds": 5,
        },
    )
    assert response.status_code == 202, response.text[:500]
    task_id = response.json()["id"]
    (key,) = keys(stack, PARAMS_PREFIX) - before
    stack.client("s3").delete_object(Bucket=stack.settings.payload_bucket, Key=key)

    body = finished(stack, task_id)

    assert body["state"] == "FAILURE"
    assert "PayloadMissing" in body["error"] and key in body["error"]
    wait_until(lambda: stack.queue_depth() == 0, 30, "its message deleted")
    # It will never start: the client's waiting slot it held is given back.
    backend = table_backend(stack.client("dynamodb"), stack.settings.results_table)
    item = backend.client.get_item(TableName=backend.table_name, Key=backend.item_key(task_id))
    assert SLOT_ATTRIBUTE not in item["Item"]


def test_a_600_kb_result_is_kept_in_the_bucket_and_returned_inline(stack: LocalStack) -> None:
    before = keys(stack, RESULTS_PREFIX)

    task_id = stack.api(timeout=30).enqueue("sized_result", {"size": 600_000})

    body = finished(stack, task_id)
    assert body["state"] == "SUCCESS", body["error"]
    assert body["result"] == sized_text(600_000)
    assert body["result_url"] is None
    assert [key.split("/")[1] for key in keys(stack, RESULTS_PREFIX) - before] == [task_id]


def test_a_5_mb_result_is_returned_as_a_short_lived_url(stack: LocalStack) -> None:
    task_id = stack.api(timeout=30).enqueue("sized_result", {"size": 5_000_000})

    body = finished(stack, task_id)

    assert body["state"] == "SUCCESS", body["error"]
    assert body["result"] is None
    url = body["result_url"]
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == [str(RESULT_URL_SECONDS)]
    download = requests.get(url, timeout=30)  # no API key: the URL is the permission
    assert download.status_code == 200
    assert json.loads(download.content) == sized_text(5_000_000)


def test_python_code_reads_a_stored_result_whole(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = stack.api(timeout=30).enqueue("sized_result", {"size": 500_000})
    assert finished(stack, task_id)["state"] == "SUCCESS"
    app = producer(stack, monkeypatch, "reader")

    assert AsyncResult(task_id, app=app).get(timeout=10) == sized_text(500_000)


def test_the_local_bucket_expires_results_with_their_items(stack: LocalStack) -> None:
    """moto keeps the lifecycle but never runs it: the expiry itself is not observable here
    (the template's rules: tests/infra/test_payload_bucket.py)."""
    rules = stack.client("s3").get_bucket_lifecycle_configuration(
        Bucket=stack.settings.payload_bucket
    )["Rules"]

    days = {rule["Filter"]["Prefix"]: rule["Expiration"]["Days"] for rule in rules}
    assert days == expiry_days(stack.settings)
    assert days[RESULTS_PREFIX] == 1  # RESULT_EXPIRES: a day


def test_the_web_takes_a_body_up_to_its_limit_and_answers_413_beyond(stack: LocalStack) -> None:
    limit = stack.settings.max_request_bytes
    api = stack.api(timeout=60)
    envelope = len(json.dumps({"task": "param_digest", "params": {"data": ""}}))
    data = "x" * (limit - envelope)  # the body is exactly the limit

    task_id = api.enqueue("param_digest", {"data": data})
    refused = api.post_task("param_digest", {"data": data + "x"})

    assert finished(stack, task_id)["result"] == digest(data)
    assert refused.status_code == 413
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert f"over {limit} bytes" in refused.json()["detail"]
