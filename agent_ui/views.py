"""The agent workstation: the page (everything after it is Socket.IO, see
`sockets.py`), the managers' script upload and the printable follow-up letter."""

from __future__ import annotations

import time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from agent_ui import sockets, transfer_sockets, work_sockets  # noqa: F401  (registers the socket events)
from callcenter import dialer_reasons, pacer_reasons, request_scope, webphone
from callcenter.auth.access import allow_roles
from callcenter.dates import format_datetime
from callcenter.errors import Conflict, DomainError
from callcenter.i18n import select_locale
from callcenter.services import (
    agents,
    calendar_feeds,
    disposition_codes,
    follow_up,
    meetings,
    scripts_catalog,
    workstation,
)
from callcenter.states import Role
from scripts import ScriptError

bp = Blueprint(
    "agent_ui",
    __name__,
    url_prefix="/agent",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/agent_ui",
)

MAX_SCRIPT_BYTES = 512 * 1024


@bp.get("/")
@allow_roles(Role.AGENT)
def home() -> ResponseReturnValue:
    session = request_scope.session()
    status = agents.status_of(session, current_user.id)
    settings = current_app.extensions["cc_settings"]
    browser_phone = webphone.is_browser_phone(settings, current_user.id, current_user.sip_uri)
    campaigns = agents.assigned_campaigns(session, current_user)
    return render_template(
        "agent_ui/home.html",
        campaigns=campaigns,
        pause_reasons=agents.pause_reasons(session),
        status=status,
        browser_phone_offered=webphone.available(settings),
        browser_phone_chosen=browser_phone
        or (not current_user.sip_uri and webphone.available(settings)),
        phone="" if browser_phone else current_user.sip_uri or "",
        phone_max_length=agents.MAX_PHONE_LENGTH,
        dispositions_by_campaign=disposition_codes.for_campaigns(
            session, [campaign.id for campaign in campaigns]
        ),
        skip_reasons=workstation.PREVIEW_SKIP_REASONS,
        phone_lost_reasons=pacer_reasons.for_browser(dialer_reasons.PHONE_LOST),
    )


@bp.get("/phone/config")
@allow_roles(Role.AGENT)
def phone_config() -> ResponseReturnValue:
    """The browser phone's registration: fresh credentials for this agent only."""
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


@bp.route("/scripts", methods=["GET", "POST"])
@allow_roles(Role.MANAGER, Role.ADMIN)
def scripts() -> ResponseReturnValue:
    session = request_scope.session()
    problems: list[str] = []
    source = ""
    if request.method == "POST":
        upload = request.files.get("script")
        source = (upload.filename or "") if upload else ""
        if upload is None or not source:
            problems.append(_("Choose a script file (.yaml) to upload."))
        else:
            raw = upload.read(MAX_SCRIPT_BYTES + 1)
            try:
                if len(raw) > MAX_SCRIPT_BYTES:
                    problems.append(_("The file is larger than 512 KB."))
                else:
                    version = scripts_catalog.add_version(
                        session, raw.decode("utf-8"), source, actor=current_user
                    )
                    flash(
                        _(
                            "Script %(key)s (%(locale)s) version %(version)s added.",
                            key=version.key,
                            locale=version.locale,
                            version=version.version,
                        ),
                        "success",
                    )
                    return redirect(url_for("agent_ui.scripts"))
            except UnicodeDecodeError:
                problems.append(_("%(file)s is not UTF-8 text.", file=source))
            except ScriptError as exc:
                problems.extend(str(exc).splitlines())
            except Conflict as exc:
                problems.append(exc.shown())
    status = 422 if problems else 200
    return (
        render_template(
            "agent_ui/scripts.html",
            versions=scripts_catalog.list_versions(session),
            problems=problems,
            source=source,
        ),
        status,
    )


@bp.get("/meetings")
@allow_roles(Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
def my_meetings() -> ResponseReturnValue:
    """The salesperson's meetings: record what happened at each."""
    return _meetings_page()


def _meetings_page(new_calendar_url: str | None = None) -> ResponseReturnValue:
    session = request_scope.session()
    groups = meetings.my_meetings(session, current_user, current_user.locale)
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    locale = select_locale()
    return render_template(
        "agent_ui/meetings.html",
        groups=groups,
        outcomes=meetings.Outcome,
        calendar_links=(
            calendar_feeds.own_feeds(session, current_user) if current_user.is_salesperson else []
        ),
        new_calendar_url=new_calendar_url,
        when=lambda at: format_datetime(at, locale, tz=tz, style="short") if at else "—",
    )


@bp.post("/meetings/calendar-links")
@allow_roles(Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
def make_calendar_link() -> ResponseReturnValue:
    """The salesperson's own calendar subscription link, shown once."""
    _feed, token = calendar_feeds.create_own_feed(request_scope.session(), current_user)
    return _meetings_page(url_for("calendars.feed", token=token, _external=True))


@bp.post("/meetings/calendar-links/<int:feed_id>/revoke")
@allow_roles(Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
def revoke_calendar_link(feed_id: int) -> ResponseReturnValue:
    calendar_feeds.revoke_own_feed(request_scope.session(), feed_id, current_user)
    flash(_("The calendar link no longer works."), "success")
    return redirect(url_for("agent_ui.my_meetings"))


@bp.post("/meetings/<int:appointment_id>/outcome")
@allow_roles(Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
def meeting_outcome(appointment_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    try:
        form = meetings.parse_outcome(request.form)
        meetings.record_outcome(
            session, appointment_id, form, actor=current_user, bus=current_app.extensions["cc_bus"]
        )
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.shown(), "error")
        return redirect(url_for("agent_ui.my_meetings", _anchor=f"meeting-{appointment_id}"))
    flash(_("Saved."), "success")
    return redirect(url_for("agent_ui.my_meetings"))


@bp.get("/letters/<int:follow_up_id>")
@allow_roles(Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
def letter(follow_up_id: int) -> ResponseReturnValue:
    content = follow_up.letter(request_scope.session(), follow_up_id, current_user)
    return render_template("agent_ui/letter.html", letter=content)
