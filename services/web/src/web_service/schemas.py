"""The HTTP API's bodies, as pydantic models: they validate requests and make the OpenAPI doc."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, RootModel, TypeAdapter, field_validator
from taskqueue.catalogue.registry import TASKS, TaskSpec, request_models
from taskqueue.factory import load_catalogue
from taskqueue.settings import get_settings
from taskqueue.stores.idempotency import MAX_KEY_LENGTH
from taskqueue.stores.payloads import RESULT_URL_SECONDS
from taskqueue.stores.task_list import LISTED_STATES, MAX_LIMIT

# Every registered task's, once this process's settings loaded the catalogue (the diagnostic
# tasks with DIAGNOSTIC_TASKS): the OpenAPI document leaves out those an app does not offer
# (web_service.api_spec).
load_catalogue(get_settings())
_REQUEST_MODELS = tuple(request_models(TASKS.values()))

TaskRequestUnion = Annotated[Union[_REQUEST_MODELS], Field(discriminator="task")]  # type: ignore[valid-type]  # noqa: UP007


class TaskRequest(RootModel[TaskRequestUnion]):
    """`{"task": <name>, "params": {...}}`: the task to queue and its parameters; optionally
    `"delay_seconds"` or `"not_before"` (RFC 3339), not both."""


def task_request(specs: Iterable[TaskSpec]) -> TypeAdapter[Any]:
    """The validator of `POST /tasks` bodies for `specs` only: another name is an unknown task."""
    models = tuple(request_models(specs))
    union: Any = Annotated[Union[models], Field(discriminator="task")]  # noqa: UP007
    return TypeAdapter(union)


class IdempotencyHeaders(BaseModel):
    """The queueing routes' optional request header (draft-ietf-httpapi-idempotency-key-header)."""

    idempotency_key: str | None = Field(
        None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="A key of 1 to 255 printable ASCII characters, bare or quoted, unique per"
        " request (a UUID): a repeat of the request with it within RESULT_EXPIRES (24 h by"
        " default) gets the first 202 again and queues nothing; 409 while the first is in"
        " flight; 422 with another body. Per client.",
    )


class TaskAccepted(BaseModel):
    """The task is queued; poll `status_url` for its state."""

    id: str
    status_url: str


class Progress(BaseModel):
    """How far a running task has got."""

    current: int
    total: int


class TaskStatusBody(BaseModel):
    """One task's state: SCHEDULED, PENDING, STARTED, PROGRESS, SUCCESS, FAILURE, RETRY,
    REVOKED or DEAD_LETTERED."""

    id: str
    queue: str | None = Field(
        None, description="The queue it is sent to; null when its task is not known here."
    )
    state: str
    progress: Progress | None
    result: Any = None
    result_url: str | None = Field(
        None,
        description="SUCCESS with a result over RESULT_INLINE_MAX_BYTES (kept in the payload"
        f" bucket): a presigned URL that GETs the result's JSON for {RESULT_URL_SECONDS // 60}"
        " minutes; `result` is null then. Null otherwise.",
    )
    error: str | None
    due: str | None = Field(
        None, description="SCHEDULED: when it is due (RFC 3339, UTC); null otherwise."
    )
    reason: str | None = Field(
        None,
        description="DEAD_LETTERED: why its message is in the dead-letter queue (`failed 3"
        " times`, `worker lost 5 times`, `time limit`); SCHEDULED: `rate limited` while it"
        " waits for its rate's turn; null otherwise.",
    )


class TaskListQuery(BaseModel):
    """`GET /tasks` query: which of the caller's tasks, how many, from where."""

    state: str | None = Field(
        None,
        description="Only tasks in this state.",
        json_schema_extra={"enum": sorted(LISTED_STATES)},
    )
    limit: int = Field(20, ge=1, le=MAX_LIMIT, description="Tasks per page.")
    # A cursor is base64url of about 200 characters; the bound keeps any cursor, encoded,
    # far inside gunicorn's 4094-byte request line.
    cursor: str | None = Field(
        None,
        max_length=300,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="`next_cursor` of the previous page.",
    )

    @field_validator("state")
    @classmethod
    def _known_state(cls, state: str | None) -> str | None:
        if state is not None and state not in LISTED_STATES:
            raise ValueError(f"must be one of {', '.join(sorted(LISTED_STATES))}")
        return state


class TaskSummaryBody(BaseModel):
    """One task of the list: its name, state, progress, when queued and last changed."""

    id: str
    task: str
    queue: str | None = Field(description="The queue it is sent to (its task's).")
    state: str
    progress: Progress | None
    queued_at: datetime
    updated_at: datetime


class TaskListBody(BaseModel):
    """A page of the caller's tasks, newest first; `next_cursor` is null on the last page."""

    items: list[TaskSummaryBody]
    next_cursor: str | None


class WorkerBody(BaseModel):
    """A live worker: pool size, busy slots, the caller's tasks it runs, when last heard."""

    worker: str = Field(description="ECS task id on AWS, host:pid locally.")
    queue: str = Field(description="The one queue it consumes (WORKER_QUEUE).")
    concurrency: int
    busy: int = Field(description="Pool slots running a task (any client's).")
    running: list[str] = Field(description="Ids of the caller's tasks it runs.")
    version: str
    last_receive: datetime | None = Field(description="When it last received a task.")
    seen_at: datetime = Field(description="When it last wrote its presence.")


class WorkerList(BaseModel):
    """The workers that wrote their presence within WORKER_PRESENCE_WINDOW seconds."""

    workers: list[WorkerBody]


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Dotted path of the field, e.g. `params.duration`.")
    message: str


class Problem(BaseModel):
    """An error, as RFC 9457 `application/problem+json`."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class Health(BaseModel):
    """The web process is up."""

    status: str


def rfc3339(seconds: float) -> str:
    """An epoch time as the API writes times: RFC 3339 in UTC, to the millisecond."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
