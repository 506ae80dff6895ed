"""A task for tests/e2e/test_flask_context.py only, loaded into a real worker with
`celery worker --include`: it answers, from inside the worker, each registered task's classes."""

from __future__ import annotations

from celery import Task
from flask import current_app
from taskqueue.catalogue.placeholder import celery


@celery.task(name="flask_context_probe", bind=True)
def flask_context_probe(self: Task) -> dict[str, list[str]]:
    """Each task the worker has registered, with the names of its class's bases (MRO)."""
    tasks = current_app.extensions["celery"].tasks
    return {name: [cls.__name__ for cls in type(task).__mro__] for name, task in tasks.items()}
