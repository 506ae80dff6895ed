"""What a task author uses: `register` a task with the model of its parameters, `schedule` it,
read the `Settings`, and a secret variable with `secrets.get`.

    from taskqueue import TaskParams, register

The machinery lives in named sub-packages: `catalogue` (what a task is and when it runs),
`runtime` (what runs it in the worker), `stores` (the results table and the queues), and
`factory`, the composition root that builds the apps and loads the tasks (`taskqueue.tasks`).
The names below are imported on first use (PEP 562), so `import taskqueue.settings` alone,
as the CLI does, does not import Celery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskqueue import secrets
    from taskqueue.catalogue.registry import TaskParams, register
    from taskqueue.catalogue.schedules import schedule
    from taskqueue.settings import Settings, get_settings

# Each public name and the module that defines it.
_HOMES = {
    "TaskParams": "taskqueue.catalogue.registry",
    "register": "taskqueue.catalogue.registry",
    "schedule": "taskqueue.catalogue.schedules",
    "Settings": "taskqueue.settings",
    "get_settings": "taskqueue.settings",
}

__all__ = ["Settings", "TaskParams", "get_settings", "register", "schedule", "secrets"]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    if name == "secrets":
        return importlib.import_module("taskqueue.secrets")
    if name not in _HOMES:
        raise AttributeError(f"module 'taskqueue' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
