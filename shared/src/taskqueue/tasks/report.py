"""A slow report on its own queue, `reports`: a burst of reports never delays the quick
tasks of the default queue, whose own workers keep taking them (README "Add a queue").

It works as long_task does (`duration` seconds, progress after each); a real report would
read and aggregate here.
"""

from __future__ import annotations

from celery import Task

from taskqueue import register
from taskqueue.tasks.long_task import LongTaskParams, soft_time_limit, time_limit, work


@register(LongTaskParams, soft_time_limit=soft_time_limit, time_limit=time_limit, queue="reports")
def report(self: Task, duration: int) -> dict[str, int]:
    """Build a report for `duration` seconds, one step a second, reporting progress."""
    return work(self, duration)
