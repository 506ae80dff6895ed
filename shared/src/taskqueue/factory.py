"""The composition root: the Flask app both services build, the configured Celery
placeholder, and the task catalogue loaded from the task modules.

Nothing in the framework imports this module but the services' own entry points and
tools: it alone knows every layer (`taskqueue.catalogue`, `taskqueue.runtime`,
`taskqueue.stores`) and where the tasks are.
"""

from __future__ import annotations

import importlib
import pkgutil

from celery import Celery, signals
from flask import Flask

from taskqueue.app_settings import attach_settings, settings_of
from taskqueue.catalogue.placeholder import celery
from taskqueue.catalogue.registry import TaskSpec, apply_time_limits, offered, queues_of
from taskqueue.catalogue.schedules import SCHEDULES, Schedule
from taskqueue.runtime.celery_config import celery_config
from taskqueue.runtime.chain_steps import inherit_client
from taskqueue.runtime.logs import configure_logging
from taskqueue.runtime.task_metrics import stamp_sent_at
from taskqueue.settings import QueueAddress, Settings, SettingsError, get_settings

# The shipped tasks: every module of this package is a part of the catalogue (as Celery's
# autodiscover_tasks finds a package's tasks), so adding a task is adding a module.
TASK_PACKAGE = "taskqueue.tasks"
# The diagnostic tasks (fail, crash, retry_then_succeed, check_secret, limited, param_digest,
# sized_result, frequent_progress) live with the local stack and the tests, never in the
# production image: loaded only with DIAGNOSTIC_TASKS, from the repository's root on the path.
DIAGNOSTIC_MODULE = "devstack.diagnostic_tasks"


def create_flask_app(name: str, settings: Settings | None = None) -> Flask:
    """The Flask app that carries the settings; the web adds blueprints to it."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = Flask(name)
    attach_settings(app, settings)
    return app


def load_tasks() -> None:
    """Import every module of the tasks package: each registers its tasks and schedules."""
    package = importlib.import_module(TASK_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__, prefix=f"{TASK_PACKAGE}."):
        importlib.import_module(module.name)


def load_diagnostic_tasks() -> None:
    """Import the diagnostic tasks; SettingsError if they are not on the path."""
    try:
        importlib.import_module(DIAGNOSTIC_MODULE)
    except ModuleNotFoundError as error:
        if error.name is None or not DIAGNOSTIC_MODULE.startswith(error.name):
            raise
        raise SettingsError(
            f"DIAGNOSTIC_TASKS is on but {DIAGNOSTIC_MODULE} cannot be imported: the diagnostic"
            " tasks are for local stacks and tests, run from the repository's root (turn"
            " DIAGNOSTIC_TASKS off, or put the repository's root on PYTHONPATH)"
        ) from error


def load_catalogue(settings: Settings) -> dict[str, TaskSpec]:
    """Load the tasks these settings offer (the diagnostic ones only with DIAGNOSTIC_TASKS)
    and return them by name."""
    load_tasks()
    if settings.diagnostic_tasks:
        load_diagnostic_tasks()
    return offered(settings)


def declared_queues(settings: Settings) -> list[str]:
    """The queues of the tasks these settings offer: "default" first, then the others."""
    return queues_of(load_catalogue(settings).values())


def require_queue_urls(settings: Settings, queues: list[str]) -> None:
    """On AWS (no AWS_ENDPOINT_URL), SettingsError for a declared queue QUEUES gives no URL
    of: its tasks would be sent to a queue the stack never made."""
    missing = [queue for queue in queues[1:] if queue not in settings.queues]
    if settings.aws_endpoint_url is None and missing:
        raise SettingsError(
            f"QUEUES gives no URL for the queue(s) {', '.join(missing)} that tasks are sent to"
            " (`register(..., queue=...)`): deploy the stack again, which makes each declared"
            " queue and sets QUEUES"
        )


def consumed_queue(settings: Settings) -> QueueAddress:
    """The one queue this worker consumes (WORKER_QUEUE); SettingsError when no task these
    settings offer is sent to it: such a worker would poll a queue nothing ever reaches."""
    queues = declared_queues(settings)
    if settings.worker_queue not in queues:
        raise SettingsError(
            f"WORKER_QUEUE is {settings.worker_queue!r} but no task is sent to that queue: the"
            f" declared queues are {', '.join(queues)} (`register(..., queue=...)`)"
        )
    return settings.queue_address(settings.worker_queue)


def declared_schedules() -> dict[str, Schedule]:
    """Every declared schedule: the task modules declare them beside their tasks."""
    load_tasks()
    return SCHEDULES


def configure_celery(app: Flask) -> Celery:
    """Load the catalogue and configure the placeholder from the app's settings; every task
    runs in this app's context (the placeholder's task class,
    `taskqueue.runtime.task_class`, enters it)."""
    settings = settings_of(app)
    catalogue = load_catalogue(settings)
    require_queue_urls(settings, queues_of(catalogue.values()))
    celery.conf.update(celery_config(settings, catalogue.values()))
    apply_time_limits(settings)
    # Every message carries its publish time: the worker's QueueWait metric starts there.
    signals.before_task_publish.connect(stamp_sent_at, weak=False, dispatch_uid="taskqueue.sent_at")
    # A chain's next step, sent by the worker, is the same client's (taskqueue.runtime.chain_steps).
    signals.before_task_publish.connect(
        inherit_client, weak=False, dispatch_uid="taskqueue.inherit_client"
    )
    celery.flask_app = app
    app.extensions["celery"] = celery
    return celery
