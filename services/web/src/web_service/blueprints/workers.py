"""The live workers, from their presence items: GET /workers."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify
from spectree import Response as SpecResponse
from taskqueue.stores.worker_presence import live_workers

from web_service.api_spec import BEARER, spec
from web_service.blueprints.tasks import results_table
from web_service.schemas import Problem, WorkerList, rfc3339

bp = Blueprint("workers", __name__, url_prefix="/workers")


@bp.get("")
@spec.validate(
    resp=SpecResponse(HTTP_200=WorkerList, HTTP_401=Problem, HTTP_503=Problem),
    tags=["workers"],
    skip_validation=True,
    security=BEARER,
)
def list_workers() -> Response:
    """Each worker heard from within WORKER_PRESENCE_WINDOW seconds: pool size, busy slots
    (shared facts) and the ids of the caller's own tasks it runs."""
    with results_table():
        workers = live_workers(current_app.extensions["celery"], client=g.client)
    return jsonify(
        {
            "workers": [
                {
                    "worker": presence.worker,
                    "queue": presence.queue,
                    "concurrency": presence.concurrency,
                    "busy": presence.busy,
                    "running": presence.running,
                    "version": presence.version,
                    "last_receive": (
                        None if presence.last_receive is None else rfc3339(presence.last_receive)
                    ),
                    "seen_at": rfc3339(presence.seen_at),
                }
                for presence in workers
            ]
        }
    )
