"""The S3 bucket of what is too large for an SQS message or a DynamoDB item.

A task message over SQS's 1 MiB keeps its body under `params/`, a result over
RESULT_OFFLOAD_BYTES under `results/` (taskqueue.stores.payloads). Each prefix expires through
the lifecycle after `taskqueue.stores.payloads.expiry_days` (S3 counts whole days: results
after RESULT_EXPIRES rounded up, so an object outlives its item by less than a day).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

# An upload in parts that never completed (the SDK's large PutObject) is removed after this.
ABANDONED_UPLOAD_DAYS = 1
# Without ListBucket, S3 answers a GetObject of a missing key 403, not 404 (NoSuchKey): the
# worker could not tell parameters that expired (fail the task) from a passing error (retry).
LIST_ACTIONS = ("s3:ListBucket",)


class PayloadBucket(Construct):
    """Private bucket: S3-managed encryption, TLS only, no public access, no ACLs, a
    lifecycle per prefix. Kept when the stack is deleted with `removal_policy` RETAIN (prod);
    otherwise deleted with it, once `make destroy` has emptied it (infra.teardown:
    CloudFormation cannot delete a bucket that holds objects)."""

    bucket: s3.Bucket

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        expiry_days: Mapping[str, int],
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id=f"expire-{prefix.rstrip('/')}",
                    prefix=prefix,
                    expiration=Duration.days(days),
                    abort_incomplete_multipart_upload_after=Duration.days(ABANDONED_UPLOAD_DAYS),
                )
                for prefix, days in expiry_days.items()
            ],
            removal_policy=removal_policy,
        )

    def grant_listing(self, role: iam.IRole) -> None:
        """ListBucket on the bucket (LIST_ACTIONS: so that a missing object is a 404)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(LIST_ACTIONS), resources=[self.bucket.bucket_arn])
        )

    def grant(self, role: iam.IRole, actions: tuple[str, ...], prefix: str) -> None:
        """`actions` on the objects under `prefix` only (explicit: CDK's grant_* helpers add
        more actions than these)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(actions), resources=[self.bucket.arn_for_objects(f"{prefix}*")]
            )
        )
