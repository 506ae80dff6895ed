"""PayloadBucket: private, encrypted, TLS only, expiring its objects with what points to them;
each task role may do only its part there; the queues take SQS's 1 MiB."""

from __future__ import annotations

import math
from typing import Any

import pytest
from aws_cdk.assertions import Match
from taskqueue.runtime.large_messages import SQS_MAX_MESSAGE_BYTES
from taskqueue.stores.payloads import SQS_MAX_RETENTION_DAYS

from infra.kept import PAYLOADS
from tests.infra.conftest import Synth, container_env, get_att, only, ref_to
from tests.infra.test_iam import actions_of, resources_of, task_role_statements

pytestmark = pytest.mark.timeout(300)

DAY = 86_400


def objects_under(synth: Synth, prefix: str) -> dict[str, Any]:
    """The ARN of the payload bucket's objects under `prefix`."""
    bucket_arn = get_att(synth.resources("AWS::S3::Bucket"), "Arn")
    return {"Fn::Join": ["", [bucket_arn, f"/{prefix}*"]]}


def s3_grants(synth: Synth, container_name: str) -> dict[str, set[str]]:
    """Each S3 action of the container's task role -> the resources it is granted on (as
    `<prefix>` for a prefix's objects, `bucket` for the bucket itself)."""
    bucket_arn = get_att(synth.resources("AWS::S3::Bucket"), "Arn")
    names = {"bucket": bucket_arn} | {
        prefix: objects_under(synth, prefix) for prefix in ("params/", "results/")
    }
    grants: dict[str, set[str]] = {}
    for statement in task_role_statements(synth, container_name):
        for action in actions_of(statement):
            if action.startswith("s3:"):
                for resource in resources_of(statement):
                    name = next(name for name, arn in names.items() if arn == resource)
                    grants.setdefault(action, set()).add(name)
    return grants


def test_the_bucket_is_private_encrypted_and_tls_only(dev: Synth) -> None:
    dev.template.resource_count_is("AWS::S3::Bucket", 1)
    dev.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )
    dev.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": ref_to(dev.resources("AWS::S3::Bucket")),
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                "Principal": {"AWS": "*"},
                            }
                        )
                    ]
                )
            },
        },
    )


def lifecycle_days(synth: Synth) -> dict[str, int]:
    """Prefix -> ExpirationInDays of the bucket's lifecycle rules."""
    _, bucket = only(synth.resources("AWS::S3::Bucket"))
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    return {rule["Prefix"]: rule["ExpirationInDays"] for rule in rules}


@pytest.mark.parametrize("variant", ["dev", "dev_settings"])
def test_results_expire_with_result_expires_in_whole_days_rounded_up(
    synth_variant: Any, variant: str
) -> None:
    synth = synth_variant(variant)
    runtime = synth.stack.config.runtime

    days = lifecycle_days(synth)

    # dev: a day (86,400 s); dev_settings: 86,401 s, so two whole days
    assert days["results/"] == math.ceil(runtime.result_expires / DAY)
    assert days["results/"] * DAY >= runtime.result_expires
    # A message's body: its longest delay, then SQS's longest retention, twice (a redrive).
    assert days["params/"] == math.ceil(runtime.task_max_delay / DAY) + 2 * SQS_MAX_RETENTION_DAYS


def test_dev_with_its_default_result_expires_keeps_results_a_day(dev: Synth) -> None:
    assert lifecycle_days(dev)["results/"] == 1


def test_prods_bucket_outlives_the_stack_and_says_why_devs_goes_with_it(
    dev: Synth, prod: Synth
) -> None:
    prod.template.has_resource(
        "AWS::S3::Bucket", {"DeletionPolicy": "Retain", "Metadata": {"KeptOnDelete": PAYLOADS}}
    )
    dev.template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Delete"})


def test_the_web_writes_messages_and_reads_results_only(dev: Synth) -> None:
    assert s3_grants(dev, "web") == {
        "s3:PutObject": {"params/"},
        "s3:GetObject": {"results/"},
        "s3:ListBucket": {"bucket"},
    }


@pytest.mark.parametrize("queue", ["worker", "worker-reports"])
def test_each_worker_reads_and_writes_both_prefixes(dev: Synth, queue: str) -> None:
    assert s3_grants(dev, queue) == {
        "s3:GetObject": {"params/", "results/"},
        "s3:PutObject": {"params/", "results/"},
        "s3:ListBucket": {"bucket"},
    }


def test_both_services_name_the_bucket(dev: Synth) -> None:
    bucket = ref_to(dev.resources("AWS::S3::Bucket"))
    for name in ("web", "worker", "worker-reports"):
        assert container_env(dev, name)["PAYLOAD_BUCKET"] == bucket


def test_every_queue_takes_sqs_largest_message(dev: Synth) -> None:
    task_queues = dev.resources("AWS::SQS::Queue")
    assert task_queues
    for logical_id, queue in task_queues.items():
        assert queue["Properties"]["MaximumMessageSize"] == SQS_MAX_MESSAGE_BYTES, logical_id
