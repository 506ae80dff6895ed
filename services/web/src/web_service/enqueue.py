"""Queueing a task: take a slot of the client's cap, record the id, then send the message; a
client at its cap is a 429, a broker failure a 503. A repeat of an Idempotency-Key gives its
slot back and gets the first answer (web_service.idempotency)."""

from __future__ import annotations

import logging
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError
from celery import Celery, uuid
from kombu.exceptions import KombuError, OperationalError
from taskqueue.app_settings import settings_of
from taskqueue.catalogue.registry import TaskParams, TaskSpec
from taskqueue.stores import waiting
from taskqueue.stores.idempotency import KeyInUse, Recorded
from taskqueue.stores.results import mark_queued

from web_service.idempotency import KeyedRequest
from web_service.problems import ProblemError
from web_service.schemas import Problem

logger = logging.getLogger(__name__)

# Everything a send or a result write raises when SQS or DynamoDB is unreachable or refuses.
BROKER_ERRORS = (BotoCoreError, ClientError, KombuError, OperationalError, OSError)
# The problems every queueing route may answer (POST /tasks adds its body's own).
QUEUEING_PROBLEMS = {
    "HTTP_400": Problem,  # a malformed Idempotency-Key (and POST /tasks's malformed JSON)
    "HTTP_401": Problem,
    "HTTP_409": Problem,  # a repeat of an Idempotency-Key while the first is in flight
    "HTTP_422": Problem,
    "HTTP_429": Problem,
    "HTTP_503": Problem,
}
# A client at its cap frees a slot when one of its tasks starts, which the web cannot
# foresee: a short wait, not a promise.
RETRY_AFTER_SECONDS = 10


def queue_unavailable() -> ProblemError:
    """The 503 of a queueing route while SQS or the results table does not answer."""
    return ProblemError(
        503, "Queue unavailable", "The task queue did not answer; try again shortly."
    )


def too_many_waiting(client: str, cap: int) -> ProblemError:
    """The 429 of a client whose waiting tasks fill its cap (taskqueue.stores.waiting)."""
    return ProblemError(
        429,
        "Too Many Requests",
        f"Client {client} has {cap} tasks waiting to start (CLIENT_MAX_WAITING): nothing was"
        f" queued; try again once some have started.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def enqueue(
    celery: Celery,
    spec: TaskSpec,
    params: TaskParams,
    client: str,
    due: datetime | None = None,
    key: KeyedRequest | None = None,
) -> str:
    """Queue `spec` with `params` for `client` (the task's owner), to run no earlier than
    `due` if given (SCHEDULED until then); return the task id. 429 when the client's waiting
    tasks fill its cap. With `key`, a repeat of its first request answers as that did."""
    task_id: str = uuid() if key is None else key.task_id
    settings = settings_of(celery.flask_app)
    backend = celery.backend
    capped = settings.client_max_waiting > 0
    try:
        admitted = not capped or waiting.admit(
            backend.client,
            backend.table_name,
            client,
            settings.client_max_waiting,
            waiting.horizon_seconds(settings.task_max_delay, settings.result_expires),
        )
    except BROKER_ERRORS as error:
        logger.warning("counting the waiting tasks failed: %s", error, extra={"task_id": task_id})
        raise queue_unavailable() from error
    if not admitted:
        # A repeat of a request already accepted gets its answer, whatever the cap.
        if key is not None and (record := repeat_record(key)) is not None:
            return key.answer(record)
        logger.info("client %s is at its cap of waiting tasks: refused", client)
        raise too_many_waiting(client, settings.client_max_waiting)
    try:
        write = None if key is None else key.write
        mark_queued(celery, task_id, client, task=spec.name, due=due, slot=capped, write=write)
        # Celery's eta: the transport sends it with SQS's DelaySeconds (taskqueue.catalogue.delays).
        # The `client` header tells the worker whose task it runs (GET /workers), and is the
        # message's group for SQS fair queues (taskqueue.runtime.message_group).
        spec.task.apply_async(
            kwargs=params.model_dump(), task_id=task_id, eta=due, headers={"client": client}
        )
    except KeyInUse as repeat:
        if capped:  # a repeat queues nothing, so it holds no slot
            give_back_slot(celery, client, task_id)
        assert key is not None  # only a keyed write raises it
        return key.answer(repeat.record)
    except BROKER_ERRORS as error:
        logger.warning("queueing failed: %s", error, extra={"task_id": task_id})
        if key is not None:
            key.give_up()
        if capped:
            give_back_slot(celery, client, task_id)
        raise queue_unavailable() from error
    if key is not None:
        key.sent()
    logger.info("queued %s", spec.name, extra={"task_id": task_id, "task_name": spec.name})
    return task_id


def give_back_slot(celery: Celery, client: str, task_id: str) -> None:
    """A task that was not queued gives its slot back; if that fails too, the slot ends with
    the client's counter (taskqueue.stores.waiting)."""
    try:
        waiting.give_back(celery.backend.client, celery.backend.table_name, client)
    except BROKER_ERRORS:
        logger.warning(
            "could not give back a waiting slot of %s", client, extra={"task_id": task_id}
        )


def repeat_record(key: KeyedRequest) -> Recorded | None:
    """The live record of `key`, read when its client is at its cap; a 503 while the table
    does not answer."""
    try:
        return key.recorded()
    except BROKER_ERRORS as error:
        raise queue_unavailable() from error
