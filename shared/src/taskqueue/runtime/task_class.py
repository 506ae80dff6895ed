"""The task base class: every task runs inside the Flask app context, once per id.

The placeholder names it (`taskqueue.catalogue.placeholder`), so every task, whenever it is
made, is a subclass; `taskqueue.factory.configure_celery` sets the app it enters. Its run
goes through the claim (`taskqueue.runtime.run_once`): the body runs once per task id
however often SQS delivers it. Its own reports (`update_state`) are written at most once
every PROGRESS_WRITE_INTERVAL (`taskqueue.runtime.progress_writes`).
"""

from __future__ import annotations

import functools
from typing import Any

from celery import Task
from flask import Flask

from taskqueue.app_settings import settings_of
from taskqueue.runtime import progress_writes
from taskqueue.runtime.run_once import run_once


class FlaskContextTask(Task):  # type: ignore[misc]
    """Runs every task inside the Flask app context of the app that configured Celery, under
    the claim on its id. The worker's tracer has set the request (its id) by then."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flask_app: Flask = self.app.flask_app
        with flask_app.app_context():
            body = functools.partial(self._reporting, *args, **kwargs)
            return run_once(self, body)

    def _reporting(self, *args: Any, **kwargs: Any) -> Any:
        """The body; what it reported and is still held is dropped when it ends (its final
        state follows)."""
        try:
            return super().__call__(*args, **kwargs)
        finally:
            if self.request.id is not None:
                self._progress_writes().end(self.request.id)

    def update_state(
        self, task_id: str | None = None, state: str | None = None, meta: Any = None, **kwargs: Any
    ) -> None:
        """Celery's `update_state`; a running task's report of its own state (PROGRESS) waits
        while its last one is younger than PROGRESS_WRITE_INTERVAL."""
        task_id = self.request.id if task_id is None else task_id
        request = self.request
        write = functools.partial(
            self.backend.store_result, task_id, meta, state, request=request, **kwargs
        )
        if task_id is None or task_id != self.request.id or not progress_writes.is_held_back(state):
            write()
            return
        self._progress_writes().report(task_id, write)

    def _progress_writes(self) -> progress_writes.ProgressWrites:
        interval = settings_of(self.app.flask_app).progress_write_interval
        return progress_writes.of_process(interval)
