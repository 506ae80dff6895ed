"""The payload bucket: what is too large for an SQS message or a DynamoDB item, in S3.

Two prefixes, each with its own readers and writers (the stack grants them so) and its own
lifecycle: `params/` holds the body of a task message over SQS's limit (written by whoever
sends it: the web, or a worker's retry; read by the worker, taskqueue.runtime.large_messages),
`results/` a result over RESULT_OFFLOAD_BYTES (written by the worker, read or presigned by the
web, taskqueue.stores.large_results). Every object has a key of its own (a uuid), so a second
send or a late duplicate never overwrites an object a message or an item still points to;
nothing deletes an object, the bucket's lifecycle expires it.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from taskqueue import aws_session
from taskqueue.settings import Settings

PARAMS_PREFIX = "params/"
RESULTS_PREFIX = "results/"
# How long a presigned URL of a result works: long enough to start a download after reading
# the status, short enough that a leaked URL is soon worthless.
RESULT_URL_SECONDS = 300
JSON = "application/json"
DAY_SECONDS = 86_400
# SQS keeps a message 14 days at most (the queue's retention, then the DLQ's, both counted
# from when it was sent).
SQS_MAX_RETENTION_DAYS = 14


def expiry_days(settings: Settings) -> dict[str, int]:
    """Days after which the bucket's lifecycle deletes an object, by prefix (S3 counts whole
    days, so each is rounded up: an object outlives what points to it by less than a day,
    and S3 deletes it at the next midnight UTC after that at the earliest).

    A result's object lives as long as its item (RESULT_EXPIRES). A message's body lives as
    long as a message may point to it: its delay (TASK_MAX_DELAY at most), then SQS's longest
    retention, and once more after a redrive sends it again.
    """
    return {
        RESULTS_PREFIX: math.ceil(settings.result_expires / DAY_SECONDS),
        PARAMS_PREFIX: math.ceil(settings.task_max_delay / DAY_SECONDS)
        + 2 * SQS_MAX_RETENTION_DAYS,
    }


class PayloadMissing(LookupError):
    """The object a message or an item points to is gone (expired, or never written)."""


@dataclass(frozen=True)
class PayloadBucket:
    """The bucket `name` through an S3 `client`."""

    client: Any
    name: str

    def put(self, prefix: str, owner: str, data: bytes) -> str:
        """Store `data` (JSON text) as a new object under `prefix`, named after the task
        `owner` it belongs to; its key."""
        key = f"{prefix}{owner}/{uuid.uuid4().hex}.json"
        self.client.put_object(Bucket=self.name, Key=key, Body=data, ContentType=JSON)
        return key

    def get(self, key: str) -> bytes:
        """The object's bytes; PayloadMissing when there is none."""
        try:
            body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise PayloadMissing(f"s3://{self.name}/{key} does not exist") from error
            raise
        return body

    def url(self, key: str, seconds: int = RESULT_URL_SECONDS) -> str:
        """A presigned GET of the object, valid for `seconds` (signed locally: no request)."""
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.name, "Key": key}, ExpiresIn=seconds
        )
        return url


def s3_client(region: str, endpoint_url: str | None, client_config: dict[str, Any]) -> Any:
    """An S3 client with the services' bounded timeouts, signing with SigV4 (presigned URLs
    of any region) and path-style addressing on a local endpoint (an IP has no bucket
    subdomains)."""
    addressing: Any = {"addressing_style": "path"} if endpoint_url else {}
    return aws_session.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(**client_config, signature_version="s3v4", s3=addressing),
    )
