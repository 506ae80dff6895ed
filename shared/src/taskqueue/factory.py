"""Factories: the Flask app both services build, and the configured Celery placeholder."""

from __future__ import annotations

from celery import Celery, signals
from flask import Flask

from taskqueue.celery_app import celery
from taskqueue.celery_config import celery_config
from taskqueue.logs import configure_logging
from taskqueue.settings import Settings, get_settings
from taskqueue.task_metrics import stamp_sent_at

SETTINGS_KEY = "taskqueue.settings"


def create_flask_app(name: str, settings: Settings | None = None) -> Flask:
    """The Flask app that carries the settings; the web adds blueprints to it."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = Flask(name)
    app.extensions[SETTINGS_KEY] = settings
    return app


def settings_of(app: Flask) -> Settings:
    """The settings the app was built with."""
    settings: Settings = app.extensions[SETTINGS_KEY]
    return settings


def configure_celery(app: Flask) -> Celery:
    """Configure the placeholder from the app's settings; every task runs in this app's
    context (the placeholder's task class, `taskqueue.flask_context`, enters it)."""
    settings = settings_of(app)
    celery.conf.update(celery_config(settings))
    # Here, not at the top: the tasks import this module (through taskqueue.idempotency).
    from taskqueue.tasks.registry import apply_time_limits

    apply_time_limits(settings)
    # Every message carries its publish time: the worker's QueueWait metric starts there.
    signals.before_task_publish.connect(stamp_sent_at, weak=False, dispatch_uid="taskqueue.sent_at")
    celery.flask_app = app
    app.extensions["celery"] = celery
    return celery
