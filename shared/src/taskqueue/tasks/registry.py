"""The catalogue of tasks the web may queue: each task beside the model of its parameters."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from celery import Task
from pydantic import BaseModel, ConfigDict, Field, create_model

from taskqueue.celery_app import celery
from taskqueue.idempotency import run_once


class TaskParams(BaseModel):
    """Base of every task's parameter model: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class TaskSpec:
    """One queueable task: its public name, the Celery task and its parameter model."""

    name: str
    task: Task
    params: type[TaskParams]
    summary: str


TASKS: dict[str, TaskSpec] = {}


def register(params: type[TaskParams]) -> Callable[[Callable[..., Any]], Task]:
    """Make `fn` a Celery task named after it, whose keyword arguments `params` validates.

    Its body runs once per task id however often SQS delivers it (`taskqueue.idempotency`).
    """

    def decorate(fn: Callable[..., Any]) -> Task:
        name = fn.__name__

        @functools.wraps(fn)
        def run_once_per_id(self: Task, *args: Any, **kwargs: Any) -> Any:
            return run_once(self, lambda: fn(self, *args, **kwargs))

        task = celery.task(name=name, bind=True)(run_once_per_id)
        summary = (fn.__doc__ or name).strip().splitlines()[0]
        TASKS[name] = TaskSpec(name=name, task=task, params=params, summary=summary)
        return task

    return decorate


def request_models() -> list[type[BaseModel]]:
    """One `{"task": <name>, "params": {...}}` model per task, for a discriminated union."""
    return [
        create_model(
            f"{_camel(spec.name)}Request",
            __config__=ConfigDict(extra="forbid", title=f"{spec.name} request"),
            __doc__=spec.summary,
            task=(Literal[spec.name], Field(description="The task to queue.")),  # type: ignore[arg-type]
            params=_params_field(spec.params),
        )
        for spec in TASKS.values()
    ]


def _params_field(params: type[TaskParams]) -> tuple[Any, Any]:
    """`params` is required unless every parameter has a default."""
    if any(field.is_required() for field in params.model_fields.values()):
        return (params, Field(description="The task's parameters."))
    return (params, Field(default_factory=params, description="The task's parameters."))


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))
