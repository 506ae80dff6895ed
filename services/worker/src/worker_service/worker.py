"""The worker's Celery app, as in the seed: `celery --app=worker_service.worker:celery worker`.

It builds the Flask app with the shared factory and configures the placeholder, so every
task runs inside the Flask app context; the worker deploys and scales apart from the web.
"""

from __future__ import annotations

import gc
from typing import Any

from celery import Celery, signals
from flask import Flask
from taskqueue.factory import configure_celery, create_flask_app, settings_of
from taskqueue.logs import configure_logging

from worker_service.heartbeat import Heartbeat

app: Flask = create_flask_app(__name__)
celery: Celery = configure_celery(app)
celery.steps["consumer"].add(Heartbeat)


@signals.setup_logging.connect
def _json_logging(**_: Any) -> None:
    """Keep the project's JSON logging instead of Celery's own handlers."""
    configure_logging(settings_of(app).log_level)


@signals.worker_init.connect
def _share_memory_with_the_pool(**_: Any) -> None:
    """Before the prefork pool forks: load what every pool process needs, then freeze it.

    The result backend's client (its SDK service model, a few MB) is made here once and
    inherited, instead of once per pool process; `gc.freeze` keeps the collector from
    writing to inherited objects, so their pages stay shared instead of being copied.
    No request is made, so no connection is inherited.
    """
    celery.backend.client  # noqa: B018 (made and cached on first access)
    gc.collect()
    gc.freeze()
