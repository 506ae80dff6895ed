"""The seed article's route, kept for compatibility: GET /sqs/celery/<duration>."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g
from pydantic import ValidationError
from spectree import Response as SpecResponse
from taskqueue.app_settings import settings_of
from taskqueue.catalogue.registry import TASKS
from taskqueue.tasks.long_task import LongTaskParams

from web_service.api_spec import BEARER, spec
from web_service.blueprints.tasks import accepted
from web_service.enqueue import QUEUEING_PROBLEMS, enqueue
from web_service.idempotency import idempotency_key, keyed
from web_service.problems import validation_problem
from web_service.schemas import IdempotencyHeaders, TaskAccepted

bp = Blueprint("sqs", __name__, url_prefix="/sqs")


@bp.get("/celery/<int:duration>")
@spec.validate(
    headers=IdempotencyHeaders,
    resp=SpecResponse(HTTP_202=TaskAccepted, **QUEUEING_PROBLEMS),
    tags=["seed"],
    skip_validation=True,
    security=BEARER,
)
def add_celery_task(duration: int) -> Response:
    """Queue long_task for `duration` seconds (the seed's route); same answer as POST /tasks,
    `Idempotency-Key` included (the same key as POST /tasks of this task and duration)."""
    key = idempotency_key()
    try:
        params = LongTaskParams.model_validate(
            {"duration": duration}, context={"settings": settings_of(current_app)}
        )
    except ValidationError as error:
        raise validation_problem(error, prefix=("params",)) from error
    celery = current_app.extensions["celery"]
    # The request it stands for: POST /tasks's body of the same task.
    body = {"task": "long_task", "params": {"duration": duration}}
    task_id = enqueue(
        celery, TASKS["long_task"], params, g.client, key=keyed(celery, g.client, key, body)
    )
    return accepted(task_id)
