"""For the load balancer and the operator: liveness, readiness, metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, Response, ResponseReturnValue, current_app

from tac import db
from tac.web import runtime

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
async def healthz() -> ResponseReturnValue:
    """The process is up and serving."""
    return {"status": "ok", "instance": current_app.extensions["tac.settings"].instance_id}


@bp.get("/readyz")
async def readyz() -> ResponseReturnValue:
    """MongoDB and the bus answer: send traffic here."""
    rt = runtime()
    checks = {"mongo": await db.ping(rt.mongo), "bus": await rt.hub.bus.ping()}
    ready = all(checks.values())
    return {"status": "ready" if ready else "unavailable", "checks": checks}, (
        200 if ready else 503
    )


@bp.get("/metrics")
async def metrics() -> ResponseReturnValue:
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)
