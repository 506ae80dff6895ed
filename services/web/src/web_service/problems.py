"""Every error leaves as RFC 9457 problem JSON: never an HTML page, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """An error the API answers with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors
        self.headers = headers or {}


def problem_response(error: ProblemError) -> Response:
    """The problem document for `error`."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if error.errors is not None:
        body["errors"] = error.errors
    response = jsonify(body)
    response.status_code = error.status
    response.mimetype = PROBLEM_JSON
    response.headers.update(error.headers)
    return response


def validation_problem(error: ValidationError, prefix: tuple[str, ...] = ()) -> ProblemError:
    """422 naming each invalid field, from pydantic's errors."""
    errors = [
        {
            "field": _field_path(prefix + tuple(str(part) for part in item["loc"]), item["type"]),
            "message": item["msg"],
        }
        for item in error.errors(include_url=False, include_input=False)
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return ProblemError(422, "Invalid request", detail, errors)


def _field_path(loc: tuple[str, ...], error_type: str) -> str:
    # A discriminated union puts the chosen tag in the location ("long_task"); drop it.
    parts = [part for i, part in enumerate(loc) if not (i == 0 and part not in {"task", "params"})]
    if error_type in {"union_tag_invalid", "union_tag_not_found"}:
        return "task"
    return ".".join(parts) or "body"


def init_app(app: Flask) -> None:
    """Register the handlers that turn every error into problem JSON."""

    @app.errorhandler(ProblemError)
    def _problem(error: ProblemError) -> Response:
        return problem_response(error)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        return problem_response(ProblemError(status, error.name, error.description or error.name))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        server_error = InternalServerError()
        return problem_response(
            ProblemError(500, server_error.name, "The server failed; the error is in its log.")
        )
