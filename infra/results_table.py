"""The DynamoDB table of Celery's result backend."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct
from taskqueue.stores import results_index

PARTITION_KEY = "id"
"""Celery's DynamoDB backend keys items by `id` (String)."""
TTL_ATTRIBUTE = "ttl"
"""Celery's DynamoDB backend writes the expiry (now + result_expires) to `ttl`."""


class ResultsTable(Construct):
    """On-demand table keyed by ``id`` whose items expire through the ``ttl`` attribute.

    The expiry itself is Celery's `result_expires` (the containers' `RESULT_EXPIRES`):
    the backend writes ``ttl = now + result_expires`` and DynamoDB deletes expired items.

    Its one index, `by_client` (taskqueue.stores.results_index: client, queued_at, projecting what
    the task and worker lists show), serves GET /tasks and GET /workers without a Scan;
    `index_arn` is what the web's Query is granted on.
    """

    table: dynamodb.Table
    index_arn: str

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        point_in_time_recovery: bool,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(
                name=PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=point_in_time_recovery
            ),
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        self.table.add_global_secondary_index(
            index_name=results_index.INDEX_NAME,
            partition_key=dynamodb.Attribute(
                name=results_index.PARTITION_ATTRIBUTE, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(
                name=results_index.SORT_ATTRIBUTE, type=dynamodb.AttributeType.NUMBER
            ),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=list(results_index.PROJECTED_ATTRIBUTES),
        )
        self.index_arn = f"{self.table.table_arn}/index/{results_index.INDEX_NAME}"
