"""Unit fixtures: the web app against in-process moto (mock_aws), no network, no processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient
from moto import mock_aws
from taskqueue.bootstrap import bootstrap
from taskqueue.factory import declared_queues
from taskqueue.settings import Settings
from taskqueue.stores import api_keys

from devstack.atomic_dynamodb import serialize_dynamodb_requests

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/taskqueue-tasks"
# The client whose key the `client` fixture sends.
CLIENT = "unit"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, so nothing could ever reach a real account."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def settings() -> Settings:
    """Settings for the in-process AWS mock (no endpoint URL: boto3's default, intercepted),
    with the diagnostic tasks, as every test stack."""
    # As on AWS, where the CDK app gives the other queues' URLs in QUEUES.
    reports = {"url": f"{QUEUE_URL}-reports", "dlq_url": f"{QUEUE_URL}-reports-dlq"}
    return Settings(
        task_queue_url=QUEUE_URL,
        aws_endpoint_url=None,
        diagnostic_tasks=True,
        queues={"reports": reports},
    )


@pytest.fixture
def aws(aws_credentials: None, settings: Settings) -> Iterator[None]:
    """In-process moto with the declared queues, their DLQs and the table bootstrapped; its
    DynamoDB serves one request at a time, as the local stack's does: an item is never read
    half written (moto applies an UpdateItem's SET clauses one by one, and a query on another
    thread, such as GET /workers beside the presence thread, could see the half)."""
    serialize_dynamodb_requests()
    with mock_aws():
        bootstrap(settings, declared_queues(settings))
        yield


@pytest.fixture
def app(aws: None, settings: Settings) -> Flask:
    from web_service.web_app import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    return app


def new_client_key(settings: Settings, name: str) -> str:
    """A key for a new client `name` in the mocked results table."""
    dynamodb = boto3.client("dynamodb", region_name=settings.aws_region)
    return api_keys.create(dynamodb, settings.results_table, name)


def authorized(app: Flask, key: str) -> FlaskClient:
    """A test client that sends `key` on every request."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client


@pytest.fixture
def api_key(aws: None, settings: Settings) -> str:
    """The key of client `CLIENT`."""
    return new_client_key(settings, CLIENT)


@pytest.fixture
def client(app: Flask, api_key: str) -> FlaskClient:
    """The web app's test client, sending the key of client `CLIENT`."""
    return authorized(app, api_key)


@pytest.fixture
def anonymous(app: Flask) -> FlaskClient:
    """A test client that sends no key."""
    return app.test_client()


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def dynamodb(aws: None) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")
