"""Results too large for their DynamoDB item: stored in the payload bucket, the item points there.

A DynamoDB item is at most 400 KB, so a task that returns a report of 600 KB would fail after
doing all its work (`ValidationException: Item size to update has exceeded the maximum allowed
size`). A SUCCESS whose encoded record is over RESULT_OFFLOAD_BYTES is written as an object
under `results/` (the result's JSON, as Celery encodes it) and the record keeps
`{"result": null, "result_object": {"key", "bytes"}}`. Celery's own reads
(`AsyncResult.get()`) fetch it back (`resolved`); the web returns it inline up to
RESULT_INLINE_MAX_BYTES and beyond that a presigned URL. The object expires with the item
(the bucket's lifecycle, whole days).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery import states

from taskqueue.stores.payloads import RESULTS_PREFIX, PayloadBucket, s3_client

# The record's key that points to its result's object.
RESULT_OBJECT = "result_object"
# Where a backend keeps its bucket once made (one S3 client per backend, made on first use).
_BUCKET_ATTRIBUTE = "_taskqueue_payload_bucket"


@dataclass(frozen=True)
class ResultObject:
    """Where a stored result is, and its size in bytes (its JSON)."""

    key: str
    bytes: int


def bucket_of(backend: Any) -> PayloadBucket | None:
    """The payload bucket of the backend's app (`payload_bucket`), None when it names none
    (a process that only reads the table: the CLI)."""
    bucket: PayloadBucket | None = getattr(backend, _BUCKET_ATTRIBUTE, None)
    name = backend.app.conf.get("payload_bucket")
    if bucket is None and name:
        client = s3_client(
            backend.aws_region,
            backend.endpoint_url,
            backend.app.conf.get("dynamodb_client_config") or {},
        )
        bucket = PayloadBucket(client, name)
        setattr(backend, _BUCKET_ATTRIBUTE, bucket)
    return bucket


def encoded_record(backend: Any, meta: dict[str, Any]) -> bytes:
    """Celery's encoded record of `meta`; for a SUCCESS over the backend's
    `result_offload_bytes`, the record with its result stored in the payload bucket."""
    encoded = _bytes(backend.encode(meta))
    limit = backend.app.conf.get("result_offload_bytes")
    if meta["status"] != states.SUCCESS or limit is None or len(encoded) <= limit:
        return encoded
    bucket = bucket_of(backend)
    if bucket is None:
        return encoded
    data = _bytes(backend.encode(meta["result"]))
    key = bucket.put(RESULTS_PREFIX, str(meta["task_id"]), data)
    pointer = {"key": key, "bytes": len(data)}
    return _bytes(backend.encode({**meta, "result": None, RESULT_OBJECT: pointer}))


def result_object(meta: dict[str, Any]) -> ResultObject | None:
    """Where a decoded record's result is stored, or None when the record holds it."""
    pointer = meta.get(RESULT_OBJECT)
    if not isinstance(pointer, dict):
        return None
    return ResultObject(key=str(pointer["key"]), bytes=int(pointer["bytes"]))


def fetched(backend: Any, stored: ResultObject) -> Any:
    """The stored result, decoded as Celery decodes a result."""
    bucket = bucket_of(backend)
    if bucket is None:
        raise LookupError("the backend's app names no payload bucket (payload_bucket)")
    return backend.decode(bucket.get(stored.key))


def resolved(backend: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """A decoded record with its result in place, fetched when it is stored apart."""
    stored = result_object(meta)
    if stored is None:
        return meta
    return {**meta, "result": fetched(backend, stored)}


def _bytes(encoded: str | bytes) -> bytes:
    return encoded.encode() if isinstance(encoded, str) else encoded
