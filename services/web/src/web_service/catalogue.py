"""The tasks this web offers, and the validator of `POST /tasks` bodies for them.

Its settings decide (`taskqueue.tasks.offered`): without DIAGNOSTIC_TASKS the diagnostic
tasks are unknown tasks here (422, not in the OpenAPI document), as they are to the worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from pydantic import TypeAdapter
from taskqueue.app_settings import settings_of
from taskqueue.catalogue.registry import TaskSpec, offered

from web_service.schemas import task_request

EXTENSION = "taskqueue.catalogue"


@dataclass(frozen=True)
class Catalogue:
    """The offered tasks by name, and the validator that knows only them."""

    tasks: Mapping[str, TaskSpec]
    requests: TypeAdapter[Any]

    def queue_of(self, task: str | None) -> str | None:
        """The queue the task named `task` is sent to; None for a task not offered here."""
        spec = self.tasks.get(task) if task is not None else None
        return None if spec is None else spec.queue


def init_app(app: Flask) -> None:
    """Make the app's catalogue from its settings."""
    tasks = offered(settings_of(app))
    app.extensions[EXTENSION] = Catalogue(tasks=tasks, requests=task_request(tasks.values()))


def catalogue_of(app: Flask) -> Catalogue:
    """The catalogue `init_app` made for the app."""
    catalogue: Catalogue = app.extensions[EXTENSION]
    return catalogue
