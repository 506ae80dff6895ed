"""ResultsTable: Celery's DynamoDB backend table (id / ttl), on demand, PITR in prod."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import Synth, container_env, only, ref_to

pytestmark = pytest.mark.timeout(300)


def test_table_matches_celerys_dynamodb_backend(dev: Synth) -> None:
    dev.template.resource_count_is("AWS::DynamoDB::Table", 1)
    dev.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": "client", "AttributeType": "S"},
                {"AttributeName": "queued_at", "AttributeType": "N"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
        },
    )


def test_one_index_of_a_client_s_items_by_time_projects_what_the_lists_show(dev: Synth) -> None:
    dev.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "by_client",
                    "KeySchema": [
                        {"AttributeName": "client", "KeyType": "HASH"},
                        {"AttributeName": "queued_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {
                        "ProjectionType": "INCLUDE",
                        "NonKeyAttributes": [
                            "state",
                            "task",
                            "timestamp",
                            "progress",
                            "worker",
                            "concurrency",
                            "busy",
                            "running",
                            "version",
                            "last_receive",
                        ],
                    },
                }
            ]
        },
    )


def test_point_in_time_recovery_in_prod_only(dev: Synth, prod: Synth) -> None:
    for synth, enabled in ((dev, False), (prod, True)):
        synth.template.has_resource_properties(
            "AWS::DynamoDB::Table",
            {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": enabled}},
        )


def test_prod_keeps_the_table_dev_deletes_it(dev: Synth, prod: Synth) -> None:
    dev.template.has_resource(
        "AWS::DynamoDB::Table", {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
    )
    prod.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like({"DeletionProtectionEnabled": True}),
        },
    )


def test_expiry_and_table_name_reach_both_containers(dev: Synth) -> None:
    table = dev.template.find_resources("AWS::DynamoDB::Table")
    only(table)
    for name in ("web", "worker"):
        env = container_env(dev, name)
        assert env["RESULTS_TABLE"] == ref_to(table)
        assert env["RESULT_EXPIRES"] == str(dev.stack.config.runtime.result_expires)
