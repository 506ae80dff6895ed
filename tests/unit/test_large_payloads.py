"""Where large data goes, decided without processes: a message's size as SQS counts it, which
records are offloaded, and a result whose object is gone (tests/e2e/test_large_payloads.py
runs the whole path on the local stack)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from celery import Celery, states
from flask import Flask
from flask.testing import FlaskClient
from kombu.utils.json import dumps
from taskqueue.runtime.large_messages import OFFLOAD_ABOVE_BYTES, too_large
from taskqueue.settings import Settings
from taskqueue.stores import large_results
from taskqueue.stores.payloads import RESULTS_PREFIX
from taskqueue.stores.results import mark_queued, read_status

from tests.unit.conftest import CLIENT, authorized, new_client_key


def message_of(json_bytes: int) -> dict[str, Any]:
    """A kombu message whose JSON is `json_bytes` long."""
    empty = len(dumps({"body": "", "headers": {}}).encode())
    return {"body": "x" * (json_bytes - empty), "headers": {}}


def test_a_message_is_measured_as_sqs_receives_it_in_base64() -> None:
    largest_base64 = OFFLOAD_ABOVE_BYTES * 3 // 4  # its base64 is exactly the limit

    assert len(dumps(message_of(largest_base64)).encode()) == largest_base64
    assert not too_large(message_of(largest_base64), base64=True)
    assert too_large(message_of(largest_base64 + 3), base64=True)
    # kombu's sqs_base64_encoding off: the JSON is the body
    assert not too_large(message_of(largest_base64 + 3), base64=False)
    assert too_large(message_of(OFFLOAD_ABOVE_BYTES + 1), base64=False)


def stored_keys(settings: Settings) -> list[str]:
    """The payload bucket's keys under results/."""
    listed = boto3.client("s3", region_name=settings.aws_region).list_objects_v2(
        Bucket=settings.payload_bucket, Prefix=RESULTS_PREFIX
    )
    return [item["Key"] for item in listed.get("Contents", [])]


def test_only_a_success_over_the_threshold_is_offloaded(app: Flask, settings: Settings) -> None:
    backend = app.extensions["celery"].backend
    limit = settings.result_offload_bytes
    small = backend.state_meta("small", states.SUCCESS, "x" * (limit - 500))
    large = backend.state_meta("large", states.SUCCESS, "x" * limit)
    failed = backend.state_meta("failed", states.FAILURE, {"exc_message": ["x" * limit]})

    assert backend.decode(large_results.encoded_record(backend, small)) == small
    assert backend.decode(large_results.encoded_record(backend, failed)) == failed
    record = backend.decode(large_results.encoded_record(backend, large))

    assert record["result"] is None
    stored = large_results.result_object(record)
    assert stored is not None and stored_keys(settings) == [stored.key]
    assert stored.key.startswith(f"{RESULTS_PREFIX}large/")
    assert stored.bytes == limit + 2  # its JSON: the text and its quotes
    assert large_results.resolved(backend, record) == {**record, "result": "x" * limit}


def test_a_result_whose_object_expired_is_410(
    app: Flask, client: FlaskClient, settings: Settings
) -> None:
    celery: Celery = app.extensions["celery"]
    mark_queued(celery, "gone", client=CLIENT)
    celery.backend.store_result("gone", "x" * settings.result_offload_bytes, states.SUCCESS)
    status = read_status(celery, "gone", client=CLIENT)
    assert status is not None and status.result_object is not None
    boto3.client("s3", region_name=settings.aws_region).delete_object(
        Bucket=settings.payload_bucket, Key=status.result_object.key
    )

    response = client.get("/tasks/gone")

    assert response.status_code == 410
    assert response.mimetype == "application/problem+json"
    assert "expired" in response.json["detail"]


@pytest.mark.parametrize("inline_max", [10, 10_000_000])
def test_a_stored_result_is_inline_up_to_the_limit_then_a_url(
    aws: None, settings: Settings, inline_max: int
) -> None:
    from web_service.web_app import create_app  # as the `app` fixture: built inside moto

    app = create_app(settings.model_copy(update={"result_inline_max_bytes": inline_max}))
    celery: Celery = app.extensions["celery"]
    mark_queued(celery, "big", client=CLIENT)
    result = {"rows": ["y" * 1000] * 400}
    celery.backend.store_result("big", result, states.SUCCESS)

    body = authorized(app, new_client_key(settings, CLIENT)).get("/tasks/big").json

    if inline_max > len(json.dumps(result)):
        assert (body["result"], body["result_url"]) == (result, None)
    else:
        assert body["result"] is None
        # signed for RESULT_URL_SECONDS; its download is proven on the local stack (tests/e2e)
        assert "X-Amz-Expires=300" in body["result_url"]
