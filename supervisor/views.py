"""The supervisor's live floor and the manager's reports."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from callcenter import dialer_reasons, pacer_reasons, request_scope, webphone
from callcenter.auth.access import allow_roles
from callcenter.services.floor.access import visible_campaigns
from callcenter.states import Role
from supervisor import reports as report_views
from supervisor import sockets  # noqa: F401  (registers the floor's socket events)

bp = Blueprint(
    "supervisor",
    __name__,
    url_prefix="/supervisor",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/supervisor",
)


@bp.get("/")
@allow_roles(Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
def floor() -> ResponseReturnValue:
    session = request_scope.session()
    nothing_to_watch = not visible_campaigns(session, current_user)
    settings = current_app.extensions["cc_settings"]
    browser_phone = webphone.is_browser_phone(settings, current_user.id, current_user.sip_uri)
    return render_template(
        "supervisor/floor.html",
        nothing_to_watch=nothing_to_watch,
        pacer_clauses=pacer_reasons.for_browser(),
        trunk_clauses=pacer_reasons.for_browser(dialer_reasons.TRUNK),
        browser_phone_offered=webphone.available(settings),
        monitor_phone="" if browser_phone else current_user.sip_uri or "",
    )


@bp.get("/phone/config")
@allow_roles(Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
def phone_config() -> ResponseReturnValue:
    """The supervisor's browser phone (to listen in): fresh credentials for them only."""
    settings = current_app.extensions["cc_settings"]
    if not webphone.available(settings):
        return jsonify(error="the browser phone is not available here"), 404
    config = webphone.browser_config(
        settings,
        current_user.id,
        page_host=urlsplit(request.host_url).hostname or "127.0.0.1",
        now=time.time(),
    )
    response = jsonify(config)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/reports")
@allow_roles(Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
def reports() -> ResponseReturnValue:
    return report_views.reports_page()


@bp.get("/reports/calls")
@allow_roles(Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
def call_list() -> ResponseReturnValue:
    """The reports' list of calls; an agent sees only this tab, with their own calls."""
    return report_views.reports_page(kind="call_list")


@bp.get("/reports/export")
@allow_roles(Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
def reports_export() -> ResponseReturnValue:
    """CSV or XLSX of a report or of raw call records, streamed."""
    return report_views.export_download()
