"""The seed article's long task: works for `duration` seconds and reports progress.

Its limits are its own (`register`): the longest duration the web accepts
(TASK_MAX_DURATION, an hour by default) plus the default soft and hard limits, so any
accepted duration fits. A cancel while it runs (taskqueue.stores.cancellation) stops it with
SoftTimeLimitExceeded, after which it logs where it stopped: its clean-up.
"""

from __future__ import annotations

import time

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.log import get_task_logger
from pydantic import Field, ValidationInfo, field_validator

from taskqueue import TaskParams, register
from taskqueue.settings import Settings, get_settings
from taskqueue.stores.results import PROGRESS

logger = get_task_logger(__name__)


class LongTaskParams(TaskParams):
    """Parameters of long_task."""

    duration: int = Field(
        ge=1, description="Seconds of work; at most TASK_MAX_DURATION (3600 by default)."
    )

    @field_validator("duration")
    @classmethod
    def _at_most_max_duration(cls, duration: int, info: ValidationInfo) -> int:
        context = info.context or {}
        settings: Settings = context.get("settings") or get_settings()
        if duration > settings.task_max_duration:
            raise ValueError(f"must be at most {settings.task_max_duration} (TASK_MAX_DURATION)")
        return duration


def soft_time_limit(settings: Settings) -> int:
    """The longest accepted duration plus the default soft limit."""
    return settings.task_max_duration + settings.task_soft_time_limit


def time_limit(settings: Settings) -> int:
    """The longest accepted duration plus the default hard limit."""
    return settings.task_max_duration + settings.task_time_limit


@register(LongTaskParams, soft_time_limit=soft_time_limit, time_limit=time_limit)
def long_task(self: Task, duration: int) -> dict[str, int]:
    """Work for `duration` seconds, one step a second, reporting progress after each."""
    return work(self, duration)


def work(task: Task, duration: int) -> dict[str, int]:
    """`duration` steps of a second, `task`'s progress after each; stops on a cancel."""
    step = 0
    try:
        for step in range(1, duration + 1):
            logger.info("Working... %d/%d", step, duration)
            time.sleep(1)
            task.update_state(state=PROGRESS, meta={"current": step, "total": duration})
    except SoftTimeLimitExceeded:
        logger.info("Stopped at %d/%d: cleaned up", step, duration)
        raise
    logger.info("Completed work on %d", duration)
    return {"duration": duration}
