"""The local bootstrap makes the resources with the attributes the CDK stack gives them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from taskqueue import bootstrap as bootstrap_module
from taskqueue.bootstrap import bootstrap
from taskqueue.settings import Settings

from tests.unit.conftest import QUEUE_URL


def test_the_queue_redrives_into_the_dlq_after_max_receive_count(
    sqs: Any, settings: Settings
) -> None:
    attributes = sqs.get_queue_attributes(QueueUrl=QUEUE_URL, AttributeNames=["All"])["Attributes"]
    dlq_url = sqs.get_queue_url(QueueName=settings.task_dlq_name)["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]

    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == settings.max_receive_count == 3
    assert int(attributes["VisibilityTimeout"]) == settings.queue_visibility_timeout
    assert int(dlq["MessageRetentionPeriod"]) == 14 * 24 * 3600


def test_the_results_table_is_keyed_by_id_with_ttl(dynamodb: Any, settings: Settings) -> None:
    table = dynamodb.describe_table(TableName=settings.results_table)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=settings.results_table)

    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_bootstrap_runs_again_without_error(aws: None, settings: Settings) -> None:
    assert bootstrap(settings)["queue_url"] == QUEUE_URL


def test_the_bootstrap_command_refuses_a_dlq_url_the_services_would_not_find(
    aws: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = settings.model_copy(update={"task_dlq_url": "https://sqs.example/1/elsewhere"})
    monkeypatch.setattr(bootstrap_module, "get_settings", lambda: wrong)

    with pytest.raises(SystemExit, match=r"TASK_DLQ_URL is https://sqs\.example/1/elsewhere but"):
        bootstrap_module.main([])
