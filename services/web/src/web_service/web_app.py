"""The web's app factory: the shared Flask app, the configured Celery instance, the blueprints."""

from __future__ import annotations

from flask import Flask, Response
from taskqueue.app_settings import settings_of
from taskqueue.factory import configure_celery, create_flask_app
from taskqueue.settings import Settings
from werkzeug.exceptions import RequestEntityTooLarge

from web_service import api_spec, auth, catalogue, problems, request_log
from web_service.blueprints import health, page, seed, status, tasks, workers


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app: Flask and the Celery instance that feeds the queue, deployed together."""
    app = create_flask_app(__name__, settings)
    # werkzeug answers a larger body 413 before reading it; a smaller one whose message is
    # over SQS's limit travels through the payload bucket (taskqueue.runtime.large_messages).
    app.config["MAX_CONTENT_LENGTH"] = settings_of(app).max_request_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    configure_celery(app)
    catalogue.init_app(app)
    request_log.init_app(app)
    problems.init_app(app)
    limit = app.config["MAX_CONTENT_LENGTH"]

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error: RequestEntityTooLarge) -> Response:
        return problems.problem_response(
            problems.ProblemError(
                413,
                "Request too large",
                f"The body is over {limit} bytes, the largest this service accepts"
                " (MAX_REQUEST_BYTES): pass larger data by reference (an object's URL or key).",
            )
        )

    auth.init_app(app, protected=(tasks.bp, seed.bp, workers.bp, status.bp))
    app.register_blueprint(health.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(seed.bp)
    app.register_blueprint(workers.bp)
    app.register_blueprint(page.bp)
    app.register_blueprint(status.bp)
    api_spec.init_app(app)
    return app
