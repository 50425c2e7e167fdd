"""Health and Prometheus metrics, for load balancers and monitoring.

/healthz is liveness (this process answers: restart it if not); /readyz is
readiness (it can reach the database and the event bus: send it traffic),
503 with the reasons when not. callcenter.health has the checks."""

from __future__ import annotations

import ipaddress

from flask import Blueprint, Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callcenter import health, request_scope
from callcenter.auth.access import public

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@public
def healthz() -> Response:
    return jsonify({"status": "alive"})


@bp.get("/readyz")
@public
def readyz() -> tuple[Response, int]:
    settings = current_app.extensions["cc_settings"]
    answer = health.readiness(
        [
            health.database_check(request_scope.database()),
            health.bus_check(current_app.extensions["cc_bus"], redis=bool(settings.redis_url)),
        ]
    )
    return jsonify(answer.body), answer.status_code


@bp.get("/metrics")
@public
def metrics() -> Response:
    """For Prometheus on the internal network only (web.metrics_networks):
    counts of calls and agents are nobody else's business."""
    networks = current_app.extensions["cc_settings"].web.metrics_networks
    if not _from_any(request.remote_addr, networks):
        abort(404)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def _from_any(address: str | None, networks: list[str]) -> bool:
    try:
        client = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(network, strict=False) for network in networks)
