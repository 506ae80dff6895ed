"""The task base class: every task runs inside the Flask app context, once per id.

The placeholder names it (`taskqueue.catalogue.placeholder`), so every task, whenever it is
made, is a subclass; `taskqueue.factory.configure_celery` sets the app it enters. Its run
goes through the claim (`taskqueue.runtime.run_once`): the body runs once per task id
however often SQS delivers it.
"""

from __future__ import annotations

import functools
from typing import Any

from celery import Task
from flask import Flask

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
        step_args, step_kwargs = step_arguments(self, args, kwargs)
        return super().__call__(*step_args, **step_kwargs)
