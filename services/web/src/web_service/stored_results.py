"""A result stored in the payload bucket, as GET /tasks/<id> shows it: inline, or a URL.

Up to RESULT_INLINE_MAX_BYTES the web fetches it and returns it as `result`, as any other;
beyond that it returns `result_url`, a presigned GET valid for a few minutes (signed here,
no request to S3), so a result of any size never passes through the web's memory.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app
from taskqueue.app_settings import settings_of
from taskqueue.stores import large_results
from taskqueue.stores.payloads import PayloadMissing
from taskqueue.stores.results import TaskStatus

from web_service.problems import ProblemError


def result_fields(status: TaskStatus) -> dict[str, Any]:
    """`result` and `result_url` of the task's status body."""
    stored = status.result_object
    if stored is None:
        return {"result": status.result, "result_url": None}
    backend = current_app.extensions["celery"].backend
    bucket = large_results.bucket_of(backend)
    if bucket is None:  # the composition root always names one: a broken deployment
        raise LookupError("the web's Celery app names no payload bucket")
    if stored.bytes > settings_of(current_app).result_inline_max_bytes:
        return {"result": None, "result_url": bucket.url(stored.key)}
    try:
        return {"result": large_results.fetched(backend, stored), "result_url": None}
    except PayloadMissing as error:
        raise ProblemError(
            410, "Result gone", "The task's result has expired from the payload bucket."
        ) from error
    except (BotoCoreError, ClientError) as error:
        raise ProblemError(
            503, "Result unavailable", "The payload bucket did not answer; try again shortly."
        ) from error
