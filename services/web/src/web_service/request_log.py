"""A request id on every request and one JSON log line per response."""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, Response, g, request

logger = logging.getLogger("web_service.access")

REQUEST_ID_HEADER = "X-Request-ID"


def init_app(app: Flask) -> None:
    """Tag each request with an id (the client's, or a new one) and log its outcome."""

    @app.before_request
    def _start() -> None:
        g.request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        fields = {"status": response.status_code, "duration_ms": round(elapsed_ms, 1)}
        if "client" in g:  # the client its key names (never the key); not on open routes
            fields["client"] = g.client
        logger.info("%s %s %s", request.method, request.path, response.status_code, extra=fields)
        return response
