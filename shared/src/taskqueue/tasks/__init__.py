"""The tasks. Importing this package registers every task in `TASKS`."""

from taskqueue.tasks import diagnostics, long_task, noop, queue_report
from taskqueue.tasks.registry import TASKS, TaskParams, TaskSpec, register

__all__ = [
    "TASKS",
    "TaskParams",
    "TaskSpec",
    "diagnostics",
    "long_task",
    "noop",
    "queue_report",
    "register",
]
