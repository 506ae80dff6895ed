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
from taskqueue.settings import Settings

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/taskqueue-tasks"


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
    """Settings for the in-process AWS mock (no endpoint URL: boto3's default, intercepted)."""
    return Settings(task_queue_url=QUEUE_URL, aws_endpoint_url=None)


@pytest.fixture
def aws(aws_credentials: None, settings: Settings) -> Iterator[None]:
    """In-process moto with the queue, DLQ and table bootstrapped."""
    with mock_aws():
        bootstrap(settings)
        yield


@pytest.fixture
def app(aws: None, settings: Settings) -> Flask:
    from web_service.factory import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def dynamodb(aws: None) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")
