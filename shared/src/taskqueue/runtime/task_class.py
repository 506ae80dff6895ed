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
from taskqueue.runtime.chain_steps import require_one_queue, step_arguments
from taskqueue.runtime.run_once import run_once


class FlaskContextTask(Task):  # type: ignore[misc]
    """Runs every task inside the Flask app context of the app that configured Celery, under
    the claim on its id. The worker's tracer has set the request (its id) by then. A chain's
    step takes its parameters from the previous step's result (taskqueue.runtime.chain_steps)."""

    abstract = True
    # Celery checks a send's arguments against the function's signature; a chain's next step
    # is sent with the previous result as a positional argument, which its keyword
    # parameters take only when it runs (chain_steps.step_arguments), so the check would refuse it.
    typing = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flask_app: Flask = self.app.flask_app
        with flask_app.app_context():
            return run_once(self, functools.partial(self._run_step, args, kwargs))

    def apply_async(self, *args: Any, **options: Any) -> Any:
        """Celery's send, refusing a chain whose steps are not all on this task's queue
        (chain_steps.require_one_queue)."""
        require_one_queue(self.name, options.get("chain"))
        return super().apply_async(*args, **options)

    def _run_step(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The body, with a chain step's arguments bound; what it reported and is still held
        is dropped when it ends (its final state follows)."""
        step_args, step_kwargs = step_arguments(self, args, kwargs)
        try:
            return super().__call__(*step_args, **step_kwargs)
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
