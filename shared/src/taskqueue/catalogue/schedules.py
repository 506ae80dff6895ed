"""Periodic tasks: schedules declared beside the tasks they run, in one `SCHEDULES` dict
(filled as the task modules are imported: `taskqueue.factory.declared_schedules`).

On AWS the CDK app makes one EventBridge Scheduler schedule per declaration (infra/schedules.py)
whose SQS target sends `message_template(...)`: a Celery message with the literal placeholder
`SCHEDULED_TIME`, which Scheduler replaces with the fire's scheduled time. Locally
devstack/local_scheduler.py sends the same string through `fire_message`, and so do
`taskqueue schedules run` and the tests. The task id is the schedule's name and the scheduled
time (`task_id`), so a duplicate fire or a retried delivery of one fire runs its body once
(taskqueue.runtime.run_once), and `GET /tasks/<id>` shows it to the schedule's `client`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery import Task
from croniter import croniter

from taskqueue.catalogue.placeholder import celery
from taskqueue.catalogue.registry import TASKS, TaskParams, TaskSpec

# EventBridge Scheduler's context attribute: the fire's scheduled time, e.g.
# 2026-12-01T03:00:00Z, substituted in the target's Input as plain text.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
SCHEDULED_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# The client that owns a schedule's tasks unless it names another (taskqueue.stores.api_keys).
DEFAULT_CLIENT = "scheduler"
# The Celery `origin` header of every fire: the sender's host name is not known at synth time.
ORIGIN = "taskqueue-schedule"
# Scheduler's name rule is [0-9a-zA-Z-_.]{1,64}; no dots, so the task id stays in the web's
# charset (web_service.blueprints.tasks.TASK_ID) and "schedule-<name>-<time>" in 100 chars.
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
RATE = re.compile(r"rate\((?P<value>[1-9][0-9]*) (?P<unit>minutes?|hours?|days?)\)")
CRON = re.compile(r"cron\((?P<fields>[^()]+)\)")
# Scheduler counts days of the week 1-7 from Sunday, croniter 0-6.
WEEKDAY_NUMBER = re.compile(r"(?<![#/0-9])[1-7](?![0-9])")


class ScheduleError(ValueError):
    """A schedule declaration EventBridge Scheduler or the task would refuse."""


@dataclass(frozen=True)
class Schedule:
    """One periodic task: run `spec` with `params` at each time of `expression`."""

    name: str
    spec: TaskSpec
    params: TaskParams
    expression: str
    timezone: str = "UTC"
    client: str = DEFAULT_CLIENT
    description: str = ""

    def next_fire(self, after: datetime) -> datetime:
        """The first scheduled time strictly after `after` (UTC)."""
        return _recurrence(self.expression, self.timezone).next_after(after)

    def last_fire(self, at: datetime) -> datetime:
        """The latest scheduled time at or before `at` (UTC)."""
        return _recurrence(self.expression, self.timezone).last_at(at)

    def message_template(self, queue_name: str) -> str:
        """The SQS message body of a fire, with `SCHEDULED_TIME` for the scheduled time."""
        return message_template(self, queue_name)


SCHEDULES: dict[str, Schedule] = {}


def schedule(
    name: str,
    *,
    task: Task | TaskSpec,
    expression: str,
    params: Mapping[str, Any] | None = None,
    timezone: str = "UTC",
    client: str = DEFAULT_CLIENT,
    description: str = "",
) -> Schedule:
    """Declare a periodic run of `task`: `expression` is `cron(...)` (Scheduler's six fields,
    in `timezone`) or `rate(N minutes|hours|days)`; `params` are validated by the task's own
    model now. Registers it in `SCHEDULES`; ScheduleError for anything Scheduler would refuse."""
    spec = task if isinstance(task, TaskSpec) else TASKS[task.name]
    if not NAME.fullmatch(name):
        raise ScheduleError(f"schedule name {name!r} must match {NAME.pattern}")
    if name in SCHEDULES:
        raise ScheduleError(f"schedule {name!r} is declared twice")
    if "<aws." in json.dumps(params or {}):
        raise ScheduleError(f"{name}: params may not contain '<aws.' (Scheduler substitutes it)")
    declared = Schedule(
        name=name,
        spec=spec,
        params=spec.params.model_validate(params or {}),
        expression=expression,
        timezone=timezone,
        client=client,
        description=description or spec.summary,
    )
    _recurrence(expression, timezone)  # refuses what Scheduler would
    SCHEDULES[name] = declared
    return declared


def task_id_template(name: str) -> str:
    """The task id of a schedule's fires, with `SCHEDULED_TIME` for the scheduled time."""
    return f"schedule-{name}-{SCHEDULED_TIME}"


def scheduled_time_text(scheduled: datetime) -> str:
    """A time as Scheduler writes `<aws.scheduler.scheduled-time>` (UTC, seconds)."""
    return scheduled.astimezone(UTC).strftime(SCHEDULED_TIME_FORMAT)


def fire_message(template: str, scheduled: datetime) -> str:
    """`template` with the scheduled time substituted, as Scheduler sends it."""
    return template.replace(SCHEDULED_TIME, scheduled_time_text(scheduled))


def task_id(name: str, scheduled: datetime) -> str:
    """The task id of the fire of schedule `name` at `scheduled`."""
    return fire_message(task_id_template(name), scheduled)


def message_template(declared: Schedule, queue_name: str) -> str:
    """The body kombu's SQS transport reads as a Celery task message, in plain JSON.

    kombu 5.7 accepts an SQS body that is not base64 (`Channel._optional_b64_decode` leaves it
    as it is) and reads it as its envelope; with no `body_encoding` property the inner body is
    the JSON text itself. So no base64 hides the placeholder from Scheduler. The headers are
    Celery's protocol 2 (`as_task_v2`) plus `client`, the owner the claim records.
    """
    tid = task_id_template(declared.name)
    message = celery.amqp.as_task_v2(
        tid,
        declared.spec.name,
        args=(),
        kwargs=declared.params.model_dump(mode="json"),
        origin=ORIGIN,
    )
    headers = {**message.headers, "client": declared.client}
    envelope = {
        "body": json.dumps(list(message.body)),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            **message.properties,
            "delivery_mode": 2,
            "priority": 0,
            # What kombu's publish records: the worker's restore of an unfinished message
            # (at shutdown) finds its queue by them.
            "delivery_info": {"exchange": "", "routing_key": queue_name},
        },
    }
    return json.dumps(envelope, separators=(",", ":"))


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Rate:
    """rate(...): every `period` from `start`. Scheduler counts from the schedule's StartDate,
    else its creation; the local scheduler and the CLI's declarations use the Unix epoch, so
    their times are the clock's."""

    period: timedelta
    start: datetime = EPOCH

    def next_after(self, moment: datetime) -> datetime:
        if moment < self.start:
            return self.start
        return self.last_at(moment) + self.period

    def last_at(self, moment: datetime) -> datetime:
        periods = (moment.astimezone(UTC) - self.start) // self.period
        return self.start + periods * self.period


@dataclass(frozen=True)
class _Cron:
    """cron(...) in its time zone, through croniter's five fields."""

    fields: str
    zone: ZoneInfo

    def next_after(self, moment: datetime) -> datetime:
        found: datetime = croniter(self.fields, moment.astimezone(self.zone)).get_next(datetime)
        return found.astimezone(UTC)

    def last_at(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.zone).replace(microsecond=0)
        # get_prev is strictly before; a moment on a fire time (to the second) is that fire.
        found: datetime = croniter(self.fields, local + timedelta(seconds=1)).get_prev(datetime)
        return found.astimezone(UTC)


def next_fire(
    expression: str, timezone: str, after: datetime, *, rate_start: datetime | None = None
) -> datetime:
    """The first time `expression` fires strictly after `after` (UTC), as a deployed schedule
    reads it: a rate(...) counts from `rate_start` (its StartDate, else its creation)."""
    return _recurrence(expression, timezone, rate_start).next_after(after)


def _recurrence(
    expression: str, timezone: str, rate_start: datetime | None = None
) -> _Rate | _Cron:
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleError(f"unknown time zone {timezone!r}") from error
    if rate := RATE.fullmatch(expression):
        value, unit = int(rate["value"]), rate["unit"]
        if (value == 1) != (not unit.endswith("s")):
            raise ScheduleError(f"{expression}: Scheduler wants a singular unit for 1 only")
        period = timedelta(**{unit.rstrip("s") + "s": value})
        return _Rate(period, (rate_start or EPOCH).astimezone(UTC))
    if cron := CRON.fullmatch(expression):
        return _Cron(_croniter_fields(expression, cron["fields"]), zone)
    raise ScheduleError(
        f"{expression!r} is neither cron(min hour day month weekday year) nor"
        " rate(N minutes|hours|days)"
    )


def _croniter_fields(expression: str, fields: str) -> str:
    """Scheduler's six cron fields as croniter's five, or ScheduleError."""
    parts = fields.split()
    if len(parts) != 6:
        raise ScheduleError(f"{expression}: cron(...) takes six fields, got {len(parts)}")
    minutes, hours, day, month, weekday, year = parts
    if year != "*":
        raise ScheduleError(f"{expression}: only year * is supported (a periodic schedule)")
    if (day == "?") == (weekday == "?"):
        raise ScheduleError(f"{expression}: exactly one of day-of-month and day-of-week is ?")
    weekday = WEEKDAY_NUMBER.sub(lambda number: str(int(number[0]) - 1), weekday)
    five = " ".join(
        [minutes, hours, "*" if day == "?" else day, month, "*" if weekday == "?" else weekday]
    )
    if not croniter.is_valid(five):
        raise ScheduleError(f"{expression}: not a cron expression this project can evaluate")
    return five
