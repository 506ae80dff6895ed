"""The status page's fragments, behind the API key: the live panel and one task's detail.

Server-rendered HTML (Jinja autoescapes every value), fetched by the page's script with
`Authorization: Bearer`; without a key they are the API's 401 problem, never data. Nothing
here may be cached: each answer is one client's view of that moment.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, g, render_template, request
from taskqueue.stores.results import read_status

from web_service import status_view
from web_service.blueprints.page import secure
from web_service.blueprints.tasks import not_queued, require_task_id, results_table

bp = Blueprint("status", __name__, url_prefix="/status")


@bp.after_app_request
def _fragment_headers(response: Response) -> Response:
    # Every answer below the prefix, the 401 of a path no route matches too.
    if request.path == bp.url_prefix or request.path.startswith(f"{bp.url_prefix}/"):
        response.headers["Cache-Control"] = "no-store"
        secure(response)
    return response


bp.add_app_template_filter(status_view.duration, "duration")
bp.add_app_template_global(status_view.finished, "finished")


@bp.get("/panel")
def panel() -> str:
    """Queue counts, workers and the client's recent tasks; what cannot be read says so."""
    return render_template("status/panel.html", panel=status_view.read_panel(g.client))


@bp.get("/tasks/<task_id>")
def task_detail(task_id: str) -> str:
    """One task of the client's: its state, progress, result or error."""
    require_task_id(task_id)
    with results_table():
        status = read_status(current_app.extensions["celery"], task_id, client=g.client)
    if status is None:
        raise not_queued(task_id)
    result = None if status.result is None else json.dumps(status.result, indent=2)
    return render_template("status/task.html", task_id=task_id, status=status, result=result)
