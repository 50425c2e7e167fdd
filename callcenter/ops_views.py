"""Health and Prometheus metrics, for load balancers and monitoring."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from callcenter import request_scope
from callcenter.auth.access import public

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@public
def healthz() -> tuple[Response, int]:
    checks = {"database": _database_ok(), "bus": current_app.extensions["cc_bus"].ping()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return jsonify(body), 200 if healthy else 503


@bp.get("/metrics")
@public
def metrics() -> Response:
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def _database_ok() -> bool:
    try:
        request_scope.database().ping()
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable (%s)", exc.__class__.__name__)
        return False
    return True
