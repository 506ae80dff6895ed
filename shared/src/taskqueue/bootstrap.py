"""Creates the queues, their dead-letter queues, the results table and the payload bucket
with the stack's attributes.

The CDK stack makes the same resources on AWS; this makes them on a local endpoint.
Run it as `python -m taskqueue.bootstrap` (idempotent).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.exceptions import ClientError

from taskqueue.settings import DEFAULT_QUEUE, Settings, get_settings
from taskqueue.stores import payloads, results_index

logger = logging.getLogger(__name__)

DLQ_RETENTION_SECONDS = 14 * 24 * 3600


def create_queues(settings: Settings, sqs: Any, queue: str = DEFAULT_QUEUE) -> dict[str, str]:
    """The DLQ of `queue`, then that queue redriving into it after `max_receive_count`
    deliveries, where `settings.queue_address` says they are."""
    address = settings.queue_address(queue)
    dlq_url = sqs.create_queue(
        QueueName=address.dlq_url.rsplit("/", 1)[-1],
        Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.max_receive_count}
    attributes = {
        "VisibilityTimeout": str(settings.queue_visibility_timeout),
        "RedrivePolicy": json.dumps(redrive),
    }
    queue_url = sqs.create_queue(QueueName=address.url.rsplit("/", 1)[-1])["QueueUrl"]
    # set_queue_attributes also updates a queue made by an earlier run.
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)
    return {"queue_url": queue_url, "dlq_url": dlq_url}


def index_definition() -> dict[str, Any]:
    """The table's index of a client's items by time (taskqueue.stores.results_index)."""
    return {
        "IndexName": results_index.INDEX_NAME,
        "KeySchema": [
            {"AttributeName": results_index.PARTITION_ATTRIBUTE, "KeyType": "HASH"},
            {"AttributeName": results_index.SORT_ATTRIBUTE, "KeyType": "RANGE"},
        ],
        "Projection": {
            "ProjectionType": "INCLUDE",
            "NonKeyAttributes": list(results_index.PROJECTED_ATTRIBUTES),
        },
    }


def create_results_table(settings: Settings, dynamodb: Any) -> None:
    """On-demand table keyed by `id` with TTL on `ttl`, as Celery's backend writes them, and
    the index of a client's items by time."""
    try:
        dynamodb.create_table(
            TableName=settings.results_table,
            AttributeDefinitions=[
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": results_index.PARTITION_ATTRIBUTE, "AttributeType": "S"},
                {"AttributeName": results_index.SORT_ATTRIBUTE, "AttributeType": "N"},
            ],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[index_definition()],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(TableName=settings.results_table)
    dynamodb.update_time_to_live(
        TableName=settings.results_table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )


def create_payload_bucket(settings: Settings, s3: Any) -> None:
    """The bucket of large messages and results, with the stack's lifecycle (moto keeps the
    rules but never runs them: objects do not expire locally)."""
    location = (
        {}
        if settings.aws_region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": settings.aws_region}}
    )
    try:
        s3.create_bucket(Bucket=settings.payload_bucket, **location)
    except ClientError as error:
        if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    rules = [
        {
            "ID": f"expire-{prefix.rstrip('/')}",
            "Filter": {"Prefix": prefix},
            "Status": "Enabled",
            "Expiration": {"Days": days},
        }
        for prefix, days in payloads.expiry_days(settings).items()
    ]
    s3.put_bucket_lifecycle_configuration(
        Bucket=settings.payload_bucket, LifecycleConfiguration={"Rules": rules}
    )


def bootstrap(settings: Settings, queues: Sequence[str] = (DEFAULT_QUEUE,)) -> dict[str, str]:
    """Create every resource, each of `queues` (the declared ones: `taskqueue.factory.
    declared_queues`) with its DLQ; return the default queue's URLs."""
    region, endpoint = settings.aws_region, settings.aws_endpoint_url
    sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint)
    urls = create_queues(settings, sqs)
    for queue in queues:
        if queue != DEFAULT_QUEUE:
            create_queues(settings, sqs, queue)
    create_results_table(
        settings, boto3.client("dynamodb", region_name=region, endpoint_url=endpoint)
    )
    create_payload_bucket(settings, boto3.client("s3", region_name=region, endpoint_url=endpoint))
    return urls


def main(argv: Sequence[str] | None = None) -> None:
    """Bootstrap the resources the settings name, with the queues named as arguments besides
    the default (`python -m taskqueue.bootstrap reports`), and print the default's URLs as
    JSON."""
    settings = get_settings()
    urls = bootstrap(settings, [DEFAULT_QUEUE, *(sys.argv[1:] if argv is None else argv)])
    for variable, configured, made in (
        ("TASK_QUEUE_URL", settings.task_queue_url, urls["queue_url"]),
        ("TASK_DLQ_URL", settings.dlq_url, urls["dlq_url"]),
    ):
        if made != configured:
            raise SystemExit(f"{variable} is {configured} but the queue is at {made}")
    print(json.dumps(urls))


if __name__ == "__main__":
    main()
