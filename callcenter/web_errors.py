"""One place that turns errors into HTML pages or JSON bodies."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from callcenter import request_scope
from callcenter.auth.access import NotLoggedIn
from callcenter.errors import DomainError
from callcenter.extensions import login_manager

log = logging.getLogger(__name__)


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _respond(status: int, error_id: str, message: str, details: dict | None = None):
    if wants_json():
        body = {"error": error_id, "message": message, "details": details or {}}
        return jsonify(body), status
    return render_template("errors/error.html", status=status, message=message), status


def handle_domain_error(exc: DomainError) -> ResponseReturnValue:
    request_scope.rollback()
    if isinstance(exc, NotLoggedIn) and not wants_json():
        return redirect(url_for("auth.login", next=request.full_path))
    return _respond(exc.status, exc.error_id, exc.shown(), exc.details)


def handle_http_error(exc: HTTPException) -> ResponseReturnValue:
    messages = {
        404: _("This page does not exist."),
        405: _("This action is not allowed here."),
        429: _("Too many attempts. Please wait a minute and try again."),
    }
    status = exc.code or 500
    message = messages.get(status, exc.description or exc.name)
    return _respond(status, exc.name.lower().replace(" ", "-"), message)


def handle_csrf_error(exc: CSRFError) -> ResponseReturnValue:
    return _respond(400, "csrf", _("The form expired. Please reload the page and try again."))


def handle_database_down(exc: DBAPIError) -> ResponseReturnValue:
    log.error("database unavailable: %s", exc.__class__.__name__)
    request_scope.rollback()
    # The page must not need the database either: the user (who picks the
    # language and fills the menu) cannot be loaded, so it is shown anonymous.
    g._login_user = login_manager.anonymous_user()
    return _respond(
        503,
        "database-unavailable",
        _("The database cannot be reached right now. Nothing was lost; try again shortly."),
    )


def handle_unexpected(exc: Exception) -> ResponseReturnValue:
    log.exception("unhandled error on %s", request.path)
    return _respond(500, "internal-error", _("Something went wrong on our side."))


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(InterfaceError, handle_database_down)
    app.register_error_handler(Exception, handle_unexpected)
