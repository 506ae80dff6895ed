"""Queue a task, list the caller's tasks, read one's state, cancel it (while it waits, or ask
it to stop while it runs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from pydantic import ValidationError
from spectree import Response as SpecResponse
from taskqueue.app_settings import settings_of
from taskqueue.catalogue.delays import due_time
from taskqueue.stores.cancellation import CancelContended, cancel_queued, request_cancel
from taskqueue.stores.results import TASK_ID, TaskStatus, read_status
from taskqueue.stores.task_list import InvalidCursor, TaskPage, list_tasks

from web_service.api_spec import BEARER, spec
from web_service.catalogue import catalogue_of
from web_service.enqueue import BROKER_ERRORS, QUEUEING_PROBLEMS, enqueue
from web_service.idempotency import idempotency_key, keyed
from web_service.problems import ProblemError, validation_problem
from web_service.schemas import (
    IdempotencyHeaders,
    Problem,
    TaskAccepted,
    TaskListBody,
    TaskListQuery,
    TaskRequest,
    TaskStatusBody,
    rfc3339,
)
from web_service.stored_results import result_fields

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def accepted(task_id: str) -> Response:
    """202 with the id, its status URL and a Location header."""
    status_url = url_for("tasks.task_status", task_id=task_id)
    response = jsonify({"id": task_id, "status_url": status_url})
    response.status_code = 202
    response.headers["Location"] = status_url
    return response


def parse_task_request() -> Any:
    """The validated request body; a problem for anything that is not a valid task."""
    if not request.is_json:
        raise ProblemError(
            415, "Unsupported Media Type", "Send a JSON body with Content-Type: application/json."
        )
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes; silent only covers ValueError
        body = None
    if body is None:
        raise ProblemError(400, "Malformed JSON", "The request body is not valid JSON.")
    try:
        return catalogue_of(current_app).requests.validate_python(
            body, context={"settings": settings_of(current_app)}
        )
    except ValidationError as error:
        raise validation_problem(error) from error


@bp.post("")
@spec.validate(
    json=TaskRequest,
    headers=IdempotencyHeaders,
    resp=SpecResponse(
        HTTP_202=TaskAccepted,
        HTTP_413=Problem,
        HTTP_415=Problem,
        **QUEUEING_PROBLEMS,
    ),
    tags=["tasks"],
    skip_validation=True,
    security=BEARER,
)
def create_task() -> Response:
    """Queue a task, at once or after `delay_seconds` or at `not_before` (SCHEDULED until
    then); 202 with its id and status URL; 429 with Retry-After while the caller has
    CLIENT_MAX_WAITING tasks waiting to start. With an `Idempotency-Key`, a repeat gets the
    first answer and queues nothing (409 while the first is in flight, 422 for another
    body)."""
    key = idempotency_key()
    task_request = parse_task_request()
    due = due_time(task_request.delay_seconds, task_request.not_before, datetime.now(UTC))
    celery = current_app.extensions["celery"]
    task_id = enqueue(
        celery,
        catalogue_of(current_app).tasks[task_request.task],
        task_request.params,
        g.client,
        due=due,
        key=keyed(celery, g.client, key, request.get_json()),
    )
    return accepted(task_id)


@bp.get("")
@spec.validate(
    query=TaskListQuery,
    resp=SpecResponse(HTTP_200=TaskListBody, HTTP_401=Problem, HTTP_422=Problem, HTTP_503=Problem),
    tags=["tasks"],
    skip_validation=True,
    security=BEARER,
)
def list_my_tasks() -> Response:
    """The caller's tasks, newest first, `limit` a page; pass `next_cursor` as `cursor` for
    the next page (a page filtered by `state` may hold fewer)."""
    try:
        query = TaskListQuery.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise validation_problem(error, prefix=("query",)) from error
    try:
        with results_table():
            page = list_tasks(
                current_app.extensions["celery"],
                g.client,
                state=query.state,
                limit=query.limit,
                cursor=query.cursor,
            )
    except InvalidCursor as error:
        raise ProblemError(
            422, "Invalid request", f"cursor: {error}", [{"field": "cursor", "message": str(error)}]
        ) from error
    return list_body(page)


def list_body(page: TaskPage) -> Response:
    """The TaskListBody of one page."""
    items = [
        {
            "id": task.id,
            "task": task.task,
            "queue": catalogue_of(current_app).queue_of(task.task),
            "state": task.state,
            "progress": task.progress,
            "queued_at": rfc3339(task.queued_at),
            "updated_at": rfc3339(task.updated_at),
        }
        for task in page.items
    ]
    return jsonify({"items": items, "next_cursor": page.next_cursor})


@bp.get("/<task_id>")
@spec.validate(
    resp=SpecResponse(
        HTTP_200=TaskStatusBody,
        HTTP_401=Problem,
        HTTP_404=Problem,
        HTTP_410=Problem,
        HTTP_503=Problem,
    ),
    tags=["tasks"],
    skip_validation=True,
    security=BEARER,
)
def task_status(task_id: str) -> Response:
    """State, progress, result or error of a queued task; 404 for an id never queued (or
    queued by another client)."""
    require_task_id(task_id)
    with results_table():
        status = read_status(current_app.extensions["celery"], task_id, client=g.client)
    if status is None:
        raise not_queued(task_id)
    return status_body(task_id, status)


@bp.delete("/<task_id>")
@spec.validate(
    resp=SpecResponse(
        HTTP_200=TaskStatusBody,
        HTTP_202=TaskStatusBody,
        HTTP_401=Problem,
        HTTP_404=Problem,
        HTTP_409=Problem,
        HTTP_503=Problem,
    ),
    tags=["tasks"],
    skip_validation=True,
    security=BEARER,
)
def cancel_task(task_id: str) -> Response:
    """Cancel a task: 200 with state REVOKED if no worker runs it (SCHEDULED or queued); 202
    with its state now if one does (it stops at the worker's next visibility extension, then
    REVOKED); 409 once it finished.

    A worker that receives the cancelled task drops it without running it. A task waiting
    for its next delivery after a failed run can be cancelled too.
    """
    require_task_id(task_id)
    celery = current_app.extensions["celery"]
    with results_table():
        outcome = cancel_queued(celery, task_id, g.client)
        if outcome.state is not None and outcome.status is None:
            try:
                outcome = request_cancel(celery, task_id, g.client)
            except CancelContended as error:
                raise ProblemError(
                    503, "Task busy", "The running task's record kept changing; try again."
                ) from error
    if outcome.state is None:
        raise not_queued(task_id)
    if outcome.status is None:
        raise ProblemError(
            409,
            "Too late to cancel",
            f"Task {task_id} is {outcome.state}: a task that finished cannot be cancelled.",
        )
    response = status_body(task_id, outcome.status)
    if outcome.requested:
        response.status_code = 202
    return response


def require_task_id(task_id: str) -> None:
    """404 for a string that could never have been queued (nor be a table key)."""
    if not TASK_ID.fullmatch(task_id):
        raise ProblemError(404, "Not Found", "No task with that id was queued.")


def not_queued(task_id: str) -> ProblemError:
    """The 404 for an id the results table does not know."""
    return ProblemError(404, "Not Found", f"No task with id {task_id} was queued.")


@contextmanager
def results_table() -> Iterator[None]:
    """503 problem while the results table does not answer."""
    try:
        yield
    except BROKER_ERRORS as error:
        raise ProblemError(
            503, "Results unavailable", "The results table did not answer; try again shortly."
        ) from error


def status_body(task_id: str, status: TaskStatus) -> Response:
    """The TaskStatusBody of one task."""
    return jsonify(
        {
            "id": task_id,
            "queue": catalogue_of(current_app).queue_of(status.task),
            "state": status.state,
            "progress": status.progress,
            **result_fields(status),
            "error": status.error,
            "due": status.due,
            "reason": status.reason,
        }
    )
