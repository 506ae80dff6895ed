"""The tasks. Importing this package registers every task in `TASKS`; `offered(settings)` is
the catalogue a deployment offers (the diagnostic tasks only with DIAGNOSTIC_TASKS)."""

from taskqueue.tasks import diagnostics, long_task, noop, queue_report
from taskqueue.tasks.registry import TASKS, TaskParams, TaskSpec, offered, register

__all__ = [
    "TASKS",
    "TaskParams",
    "TaskSpec",
    "diagnostics",
    "long_task",
    "noop",
    "offered",
    "queue_report",
    "register",
]
