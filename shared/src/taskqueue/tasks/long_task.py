"""The seed article's long task: works for `duration` seconds and reports progress."""

from __future__ import annotations

import time

from celery import Task
from celery.utils.log import get_task_logger
from pydantic import Field, ValidationInfo, field_validator

from taskqueue.settings import Settings, get_settings
from taskqueue.tasks.registry import TaskParams, register

logger = get_task_logger(__name__)


class LongTaskParams(TaskParams):
    """Parameters of long_task."""

    duration: int = Field(
        ge=1, description="Seconds of work; at most TASK_MAX_DURATION (60 by default)."
    )

    @field_validator("duration")
    @classmethod
    def _at_most_max_duration(cls, duration: int, info: ValidationInfo) -> int:
        context = info.context or {}
        settings: Settings = context.get("settings") or get_settings()
        if duration > settings.task_max_duration:
            raise ValueError(f"must be at most {settings.task_max_duration} (TASK_MAX_DURATION)")
        return duration


@register(LongTaskParams)
def long_task(self: Task, duration: int) -> dict[str, int]:
    """Work for `duration` seconds, one step a second, reporting progress after each."""
    for step in range(1, duration + 1):
        logger.info("Working... %d/%d", step, duration)
        time.sleep(1)
        self.update_state(state="PROGRESS", meta={"current": step, "total": duration})
    logger.info("Completed work on %d", duration)
    return {"duration": duration}
