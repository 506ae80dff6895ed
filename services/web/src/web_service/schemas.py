"""The HTTP API's bodies, as pydantic models: they validate requests and make the OpenAPI doc."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, RootModel, TypeAdapter
from taskqueue.tasks import TASKS
from taskqueue.tasks.registry import request_models

_REQUEST_MODELS = tuple(request_models())

TaskRequestUnion = Annotated[Union[_REQUEST_MODELS], Field(discriminator="task")]  # type: ignore[valid-type]  # noqa: UP007


class TaskRequest(RootModel[TaskRequestUnion]):
    """`{"task": <name>, "params": {...}}`: the task to queue and its parameters; optionally
    `"delay_seconds"` or `"not_before"` (RFC 3339), not both."""


TASK_REQUEST = TypeAdapter(TaskRequestUnion)


class TaskAccepted(BaseModel):
    """The task is queued; poll `status_url` for its state."""

    id: str
    status_url: str


class Progress(BaseModel):
    """How far a running task has got."""

    current: int
    total: int


class TaskStatusBody(BaseModel):
    """One task's state: SCHEDULED, PENDING, STARTED, PROGRESS, SUCCESS, FAILURE, RETRY or
    REVOKED."""

    id: str
    state: str
    progress: Progress | None
    result: Any = None
    error: str | None
    due: str | None = Field(
        None, description="SCHEDULED: when it is due (RFC 3339, UTC); null otherwise."
    )


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


def task_names() -> list[str]:
    """The tasks a client may queue."""
    return sorted(TASKS)
