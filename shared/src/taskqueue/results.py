"""Task states in the DynamoDB results table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from celery import Celery, states
from celery.backends.dynamodb import DynamoDBBackend


class ProvisionedTableBackend(DynamoDBBackend):  # type: ignore[misc]
    """Celery's DynamoDB backend for a table the stack owns.

    Celery's own backend calls DescribeTable/CreateTable and UpdateTimeToLive on its first
    use; the table and its TTL are provisioned by the CDK stack (or the local bootstrap),
    so this one only reads and writes items, with bounded timeouts.
    """

    def _get_client(
        self, access_key_id: str | None = None, secret_access_key: str | None = None
    ) -> Any:
        if self._client is None:  # type: ignore[has-type]
            self._client = boto3.client(
                "dynamodb",
                region_name=self.aws_region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=Config(**self.app.conf.get("dynamodb_client_config", {})),
            )
        return self._client


@dataclass(frozen=True)
class TaskStatus:
    """What GET /tasks/<id> shows of one task."""

    state: str
    progress: dict[str, int] | None
    result: Any
    error: str | None


def mark_queued(celery: Celery, task_id: str) -> None:
    """Record the id as PENDING before it is sent, so only queued ids are known.

    One PutItem: `backend.store_result` would first read the (new, so absent) record.
    """
    backend = celery.backend
    meta = {
        "status": states.PENDING,
        "result": None,
        "traceback": None,
        "children": [],
        "date_done": None,
        "task_id": task_id,
    }
    backend.set(backend.get_key_for_task(task_id), backend.encode(meta))


def read_status(celery: Celery, task_id: str) -> TaskStatus | None:
    """The task's state, or None when the id was never queued (or has expired)."""
    backend = celery.backend
    raw = backend.get(backend.get_key_for_task(task_id))
    if raw is None:
        return None
    meta = backend.decode_result(raw)
    state, info = meta["status"], meta["result"]
    if state == "PROGRESS" and isinstance(info, dict):
        progress = {"current": int(info["current"]), "total": int(info["total"])}
        return TaskStatus(state=state, progress=progress, result=None, error=None)
    if state in states.EXCEPTION_STATES:
        error = f"{type(info).__name__}: {info}" if isinstance(info, BaseException) else str(info)
        return TaskStatus(state=state, progress=None, result=None, error=error)
    result = info if state == states.SUCCESS else None
    return TaskStatus(state=state, progress=None, result=result, error=None)
