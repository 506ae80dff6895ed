"""A task that does nothing: for benchmarks of the queue itself."""

from __future__ import annotations

from celery import Task

from taskqueue import TaskParams, register


class NoopParams(TaskParams):
    """noop takes no parameters."""


@register(NoopParams)
def noop(self: Task) -> None:
    """Do nothing; measures the cost of the queue alone."""
