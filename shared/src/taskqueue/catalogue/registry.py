"""The catalogue of tasks the web may queue: each task beside the model of its parameters."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from celery import Task
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
)

from taskqueue.catalogue.delays import check_delay_seconds, check_not_before
from taskqueue.catalogue.placeholder import celery
from taskqueue.catalogue.rates import Rate, parse_rate
from taskqueue.settings import (
    DEFAULT_QUEUE,
    SQS_MAX_INVISIBLE_SECONDS,
    Settings,
    SettingsError,
    get_settings,
    too_long,
)

# A task's own time limit in seconds, or how to compute it from the settings.
Limit = int | Callable[[Settings], int] | None

QUEUE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
"""A queue's name: it becomes part of SQS queue, ECS service and metric names."""


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
    soft_time_limit: Limit = None
    time_limit: Limit = None
    diagnostic: bool = False
    """A task for tests and local stacks only: offered only with DIAGNOSTIC_TASKS."""
    queue: str = DEFAULT_QUEUE
    """The queue the web sends it to; that queue's own workers run it."""
    rate: Rate | None = None
    """Its rate across all workers (taskqueue.runtime.rate_gate); None: no limit."""

    def time_limits(self, settings: Settings) -> tuple[int, int]:
        """(soft, hard) seconds for this task: its own, else the settings' defaults."""
        soft = _seconds(self.soft_time_limit, settings, settings.task_soft_time_limit)
        hard = _seconds(self.time_limit, settings, settings.task_time_limit)
        if hard > SQS_MAX_INVISIBLE_SECONDS:
            raise SettingsError(too_long(f"{self.name}'s time_limit", hard))
        if not soft < hard:
            raise SettingsError(
                f"{self.name}'s soft_time_limit ({soft}) must be below its time_limit ({hard})"
            )
        return soft, hard


TASKS: dict[str, TaskSpec] = {}


def register(
    params: type[TaskParams],
    *,
    soft_time_limit: Limit = None,
    time_limit: Limit = None,
    diagnostic: bool = False,
    queue: str = DEFAULT_QUEUE,
    rate_limit: str | None = None,
    rate_burst: int = 1,
) -> Callable[[Callable[..., Any]], Task]:
    """Make `fn` a Celery task named after it, whose keyword arguments `params` validates.

    Its body runs once per task id however often SQS delivers it (`taskqueue.runtime.run_once`,
    through the placeholder's task class).
    `soft_time_limit`/`time_limit` (seconds, or a function of the settings) replace the
    settings' defaults for this task; 12 hours at most (`apply_time_limits` checks them).
    A `diagnostic` task is offered only where DIAGNOSTIC_TASKS is on (`offered`).
    `queue` names the queue it is sent to (each queue has its own workers and scaling).
    `rate_limit` ("10/s", "30/m", "100/h") with `rate_burst` bounds its starts across every
    worker (taskqueue.runtime.rate_gate); a malformed one raises SettingsError here.
    """
    if not QUEUE_NAME.match(queue):
        raise SettingsError(
            f"queue {queue!r}: a queue's name is 1-20 lowercase letters, digits and hyphens,"
            " starting with a letter"
        )
    rate = None if rate_limit is None else parse_rate(rate_limit, rate_burst)
    for limit in (soft_time_limit, time_limit):
        if isinstance(limit, int) and limit > SQS_MAX_INVISIBLE_SECONDS:
            raise SettingsError(too_long("a task's time limit", limit))

    def decorate(fn: Callable[..., Any]) -> Task:
        name = fn.__name__
        # The placeholder's task class runs the body once per id (taskqueue.runtime.task_class).
        task = celery.task(name=name, bind=True)(fn)
        summary = (fn.__doc__ or name).strip().splitlines()[0]
        TASKS[name] = TaskSpec(
            name=name,
            task=task,
            params=params,
            summary=summary,
            soft_time_limit=soft_time_limit,
            time_limit=time_limit,
            diagnostic=diagnostic,
            queue=queue,
            rate=rate,
        )
        return task

    return decorate


def offered(settings: Settings) -> dict[str, TaskSpec]:
    """The tasks these settings offer: every registered task, the diagnostic ones only with
    DIAGNOSTIC_TASKS."""
    return {
        name: spec
        for name, spec in TASKS.items()
        if settings.diagnostic_tasks or not spec.diagnostic
    }


def queues_of(specs: Iterable[TaskSpec]) -> list[str]:
    """The queues these tasks are sent to: the default queue first, then the others by name."""
    return [DEFAULT_QUEUE, *sorted({spec.queue for spec in specs} - {DEFAULT_QUEUE})]


def unregister_withheld(settings: Settings) -> list[str]:
    """Take the tasks these settings do not offer out of the Celery app's registry, and name
    them. A worker then never runs one: it refuses a message for one as an unregistered task
    at each receive (its state FAILURE, NotRegistered) until SQS dead-letters it."""
    withheld = sorted(TASKS.keys() - offered(settings).keys())
    for name in withheld:
        celery.tasks.pop(name, None)
    return withheld


def apply_time_limits(settings: Settings) -> None:
    """Give every task its (soft, hard) limits for these settings; SettingsError if one
    cannot work. The worker reads them from the task when it starts a run."""
    for spec in TASKS.values():
        spec.task.soft_time_limit, spec.task.time_limit = spec.time_limits(settings)


def _seconds(limit: Limit, settings: Settings, default: int) -> int:
    if limit is None:
        return default
    return limit(settings) if callable(limit) else limit


def request_models(specs: Iterable[TaskSpec]) -> list[type[BaseModel]]:
    """One `{"task": <name>, "params": {...}}` model per task of `specs`, for a discriminated
    union; `delay_seconds` or `not_before` beside them delay it (taskqueue.catalogue.delays)."""
    return [
        create_model(
            f"{_camel(spec.name)}Request",
            __config__=ConfigDict(extra="forbid", title=f"{spec.name} request"),
            __doc__=spec.summary,
            __validators__=DELAY_VALIDATORS,
            task=(Literal[spec.name], Field(description="The task to queue.")),  # type: ignore[arg-type]
            params=_params_field(spec.params),
            delay_seconds=(
                int | None,
                Field(
                    None,
                    ge=0,
                    description="Run no earlier than this many seconds from now; at most"
                    " TASK_MAX_DELAY (7 days by default). Not with `not_before`.",
                ),
            ),
            not_before=(
                AwareDatetime | None,
                Field(
                    None,
                    description="Run no earlier than this time (RFC 3339 with an offset); at"
                    " most TASK_MAX_DELAY from now, at most 5 s in the past. Not with"
                    " `delay_seconds`.",
                ),
            ),
        )
        for spec in specs
    ]


def _max_delay(info: ValidationInfo) -> int:
    settings: Settings = (info.context or {}).get("settings") or get_settings()
    return settings.task_max_delay


def _check_delay_seconds(cls: type[BaseModel], delay: int | None, info: ValidationInfo) -> Any:
    return None if delay is None else check_delay_seconds(delay, _max_delay(info))


def _check_not_before(cls: type[BaseModel], not_before: Any, info: ValidationInfo) -> Any:
    if not_before is None:
        return None
    if info.data.get("delay_seconds") is not None:
        raise ValueError("give either delay_seconds or not_before, not both")
    return check_not_before(not_before, _max_delay(info), datetime.now(UTC))


DELAY_VALIDATORS: dict[str, Callable[..., Any]] = {
    "_check_delay_seconds": field_validator("delay_seconds")(_check_delay_seconds),
    "_check_not_before": field_validator("not_before")(_check_not_before),
}


def _params_field(params: type[TaskParams]) -> tuple[Any, Any]:
    """`params` is required unless every parameter has a default."""
    if any(field.is_required() for field in params.model_fields.values()):
        return (params, Field(description="The task's parameters."))
    return (params, Field(default_factory=params, description="The task's parameters."))


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))
