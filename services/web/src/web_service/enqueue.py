"""Queueing a task: record the id, then send the message; a broker failure is a 503."""

from __future__ import annotations

import logging
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError
from celery import Celery, uuid
from kombu.exceptions import KombuError, OperationalError
from taskqueue.catalogue.registry import TaskParams, TaskSpec
from taskqueue.stores.results import mark_queued

from web_service.problems import ProblemError

logger = logging.getLogger(__name__)

# Everything a send or a result write raises when SQS or DynamoDB is unreachable or refuses.
BROKER_ERRORS = (BotoCoreError, ClientError, KombuError, OperationalError, OSError)


def queue_unavailable() -> ProblemError:
    """The 503 of a queueing route while SQS or the results table does not answer."""
    return ProblemError(
        503, "Queue unavailable", "The task queue did not answer; try again shortly."
    )


def enqueue(
    celery: Celery, spec: TaskSpec, params: TaskParams, client: str, due: datetime | None = None
) -> str:
    """Queue `spec` with `params` for `client` (the task's owner), to run no earlier than
    `due` if given (SCHEDULED until then); return the task id."""
    task_id: str = uuid()
    try:
        mark_queued(celery, task_id, client, task=spec.name, due=due)
        # Celery's eta: the transport sends it with SQS's DelaySeconds (taskqueue.catalogue.delays).
        # The `client` header tells the worker whose task it runs (GET /workers).
        spec.task.apply_async(
            kwargs=params.model_dump(), task_id=task_id, eta=due, headers={"client": client}
        )
    except BROKER_ERRORS as error:
        logger.warning("queueing failed: %s", error, extra={"task_id": task_id})
        raise queue_unavailable() from error
    logger.info("queued %s", spec.name, extra={"task_id": task_id, "task_name": spec.name})
    return task_id
