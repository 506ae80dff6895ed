"""The web's app factory: the shared Flask app, the configured Celery instance, the blueprints."""

from __future__ import annotations

from flask import Flask
from taskqueue.factory import configure_celery, create_flask_app
from taskqueue.runtime.celery_config import SQS_MAX_MESSAGE_BYTES
from taskqueue.settings import Settings

from web_service import api_spec, auth, catalogue, problems, request_log
from web_service.blueprints import health, page, seed, status, tasks, workers


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app: Flask and the Celery instance that feeds the queue, deployed together."""
    app = create_flask_app(__name__, settings)
    # Larger bodies could not travel as one SQS message: werkzeug answers 413.
    app.config["MAX_CONTENT_LENGTH"] = SQS_MAX_MESSAGE_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    configure_celery(app)
    catalogue.init_app(app)
    request_log.init_app(app)
    problems.init_app(app)
    auth.init_app(app, protected=(tasks.bp, seed.bp, workers.bp, status.bp))
    app.register_blueprint(health.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(seed.bp)
    app.register_blueprint(workers.bp)
    app.register_blueprint(page.bp)
    app.register_blueprint(status.bp)
    api_spec.init_app(app)
    return app
