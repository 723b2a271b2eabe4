"""For the load balancer and the operator: liveness, readiness, metrics."""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, Response, ResponseReturnValue, current_app, request

from tac import db
from tac.web import runtime, settings

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
    """For Prometheus, on each instance's own address: the nginx configs never pass it on
    (it tells the Python version and the traffic). With TAC_METRICS_TOKEN, only its bearer."""
    if not metrics_allowed(request.headers.get("Authorization", "")):
        return Response(
            "Send 'Authorization: Bearer <TAC_METRICS_TOKEN>'.\n",
            401,
            {"WWW-Authenticate": "Bearer"},
            content_type="text/plain",
        )
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def metrics_allowed(authorization: str) -> bool:
    token = settings().metrics_token
    if not token:
        return True
    scheme, _, given = authorization.strip().partition(" ")
    given_bytes, token_bytes = given.strip().encode(), token.encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given_bytes, token_bytes)
