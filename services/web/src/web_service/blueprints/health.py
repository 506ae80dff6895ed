"""Liveness for the load balancer: answers without touching the broker."""

from __future__ import annotations

from flask import Blueprint
from spectree import Response as SpecResponse

from web_service.api_spec import spec
from web_service.schemas import Health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@spec.validate(resp=SpecResponse(HTTP_200=Health), tags=["health"], skip_validation=True)
def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}
