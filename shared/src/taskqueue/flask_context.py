"""The task base class: every task runs inside the Flask app context.

The placeholder is built with it (`taskqueue.celery_app`), so every task, whenever it is
made, is a subclass; `taskqueue.factory.configure_celery` sets the app it enters.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from flask import Flask


class FlaskContextTask(Task):  # type: ignore[misc]
    """Runs every task inside the Flask app context of the app that configured Celery."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flask_app: Flask = self.app.flask_app
        with flask_app.app_context():
            return super().__call__(*args, **kwargs)
