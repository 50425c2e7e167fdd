"""User administration, teams and the audit log (admin role)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import Field

from callcenter import request_scope
from callcenter.auth.access import allow_roles
from callcenter.auth.forms import (
    AuditFilterForm,
    ConfirmForm,
    TeamForm,
    TeamPeopleForm,
    UserCreateForm,
    UserEditForm,
)
from callcenter.dates import DateParseError, format_datetime, parse_date
from callcenter.errors import DomainError
from callcenter.i18n import select_locale
from callcenter.models import Team
from callcenter.services import accounts, audit, teams
from callcenter.states import Role

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _team_choices() -> list[tuple[str, str]]:
    teams = accounts.list_teams(request_scope.session())
    return [("", "—"), *((str(team.id), team.name) for team in teams)]


def _team_from(value: str | None) -> Team | None:
    if not value:
        return None
    return next(
        (t for t in accounts.list_teams(request_scope.session()) if str(t.id) == value), None
    )


@bp.get("/users")
@allow_roles(Role.ADMIN)
def users() -> ResponseReturnValue:
    return render_template(
        "admin/users.html",
        users=accounts.list_users(request_scope.session()),
        confirm=ConfirmForm(),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@allow_roles(Role.ADMIN)
def create_user() -> ResponseReturnValue:
    form = UserCreateForm()
    form.team.choices = _team_choices()
    if form.validate_on_submit():
        try:
            user, password = accounts.create_user(
                request_scope.session(),
                username=form.username.data or "",
                full_name=form.full_name.data or "",
                role=Role(form.role.data),
                team=_team_from(form.team.data),
                locale=form.locale.data or "fa",
                email=form.email.data or None,
                actor=current_user,
            )
        except DomainError as exc:
            field = getattr(form, str(exc.details.get("field", "")), None)
            (field.errors if field is not None else form.form_errors).append(exc.shown())
        else:
            return render_template("admin/password_shown.html", user=user, password=password)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/user_form.html", form=form), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@allow_roles(Role.ADMIN)
def edit_user(user_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    user = accounts.get_user(session, user_id)
    form = UserEditForm(obj=user if request.method == "GET" else None)
    form.team.choices = _team_choices()
    if request.method == "GET":
        form.team.data = str(user.team_id or "")
        form.role.data = user.role.value
    if form.validate_on_submit():
        try:
            accounts.set_role(session, user, Role(form.role.data), actor=current_user)
            accounts.set_team(session, user, _team_from(form.team.data), actor=current_user)
            accounts.set_locale(session, user, form.locale.data or "fa")
            accounts.set_salesperson(
                session, user, bool(form.is_salesperson.data), actor=current_user
            )
            accounts.set_direct_number(session, user, form.direct_number.data, actor=current_user)
            if user.is_active != form.is_active.data:
                accounts.set_active(session, user, bool(form.is_active.data), actor=current_user)
        except DomainError as exc:
            field = getattr(form, str(exc.details.get("field", "")), None)
            (field.errors if field is not None else form.form_errors).append(exc.shown())
            return render_template("admin/user_edit.html", form=form, user=user), 422
        flash(_("Saved."), "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_edit.html", form=form, user=user, confirm=ConfirmForm())


@bp.post("/users/<int:user_id>/reset-password")
@allow_roles(Role.ADMIN)
def reset_password(user_id: int) -> ResponseReturnValue:
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("admin.users"))
    session = request_scope.session()
    user = accounts.get_user(session, user_id)
    password = accounts.reset_password(session, user, actor=current_user)
    return render_template("admin/password_shown.html", user=user, password=password)


# --- teams ---------------------------------------------------------------------------------


@bp.route("/teams", methods=["GET", "POST"])
@allow_roles(Role.ADMIN)
def teams_index() -> ResponseReturnValue:
    session = request_scope.session()
    form = TeamForm()
    if form.validate_on_submit():
        try:
            team = teams.create_team(session, form.name.data or "", actor=current_user)
        except DomainError as exc:
            form.name.errors.append(exc.shown())
        else:
            flash(_("Team %(name)s created.", name=team.name), "success")
            return redirect(url_for("admin.edit_team", team_id=team.id))
    found = teams.list_teams(session)
    return render_template(
        "admin/teams.html",
        teams=found,
        supervisors={team.id: teams.supervisors_of(session, team) for team in found},
        agents={team.id: teams.agents_of(session, team) for team in found},
        form=form,
    ), (422 if form.is_submitted() and form.errors else 200)


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@allow_roles(Role.ADMIN)
def edit_team(team_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    team = teams.get_team(session, team_id)
    form = TeamPeopleForm()
    supervisors = teams.users_with_role(session, Role.SUPERVISOR)
    agents = teams.users_with_role(session, Role.AGENT)
    form.supervisors.choices = [(user.id, user.full_name) for user in supervisors]
    form.agents.choices = [(user.id, _agent_label(user, team)) for user in agents]
    if request.method == "GET":
        form.name.data = team.name
        form.supervisors.data = [user.id for user in teams.supervisors_of(session, team)]
        form.agents.data = [user.id for user in teams.agents_of(session, team)]
    if form.validate_on_submit():
        chosen_supervisors = set(form.supervisors.data or [])
        chosen_agents = set(form.agents.data or [])
        try:
            teams.rename_team(session, team, form.name.data or "", actor=current_user)
            teams.set_supervisors(
                session,
                team,
                [user for user in supervisors if user.id in chosen_supervisors],
                actor=current_user,
            )
            teams.set_agents(
                session,
                team,
                [user for user in agents if user.id in chosen_agents],
                actor=current_user,
            )
        except DomainError as exc:
            session.rollback()
            field = getattr(form, str(exc.details.get("field", "")), None)
            (field.errors if field is not None else form.form_errors).append(exc.shown())
            return render_template("admin/team_edit.html", form=form, team=team), 422
        flash(_("Saved."), "success")
        return redirect(url_for("admin.teams_index"))
    return render_template("admin/team_edit.html", form=form, team=team)


def _agent_label(user: object, team: Team) -> str:
    other = getattr(user, "team", None)
    name = str(getattr(user, "full_name", ""))
    if other is None or other.id == team.id:
        return name
    return _("%(name)s (now in %(team)s)", name=name, team=other.name)


# --- the audit log -------------------------------------------------------------------------


@bp.get("/audit")
@allow_roles(Role.ADMIN)
def audit_log() -> ResponseReturnValue:
    session = request_scope.session()
    form = AuditFilterForm(request.args)
    form.target_type.choices = [
        ("", "—"),
        *((kind, _object_label(kind)) for kind in audit.target_types(session)),
    ]
    form.validate()
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    wanted = audit.AuditFilter(
        actor_username=form.actor.data or None,
        action=form.action.data or None,
        target_type=form.target_type.data or None,
        target_id=form.target_id.data or None,
        since=_day_start(form.date_from, tz),
        until=_day_start(form.date_to, tz, next_day=True),
    )
    page = audit.search(session, wanted, page=request.args.get("page", 1, type=int))
    query = {key: value for key, value in request.args.items() if key != "page" and value}
    locale = select_locale()
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        query=query,
        when=lambda at: format_datetime(at, locale, tz=tz, style="short"),
        shown=lambda details: json.dumps(details, ensure_ascii=False),
        object_label=_object_label,
    )


def _object_label(target_type: str) -> str:
    return _(audit.TARGET_LABELS.get(target_type, target_type))


def _day_start(field: Field, tz: ZoneInfo, *, next_day: bool = False) -> datetime | None:
    """The start of the day typed in `field` (Jalali or Gregorian, year
    first), or of the day after; None when empty or not a date (said on the field)."""
    if not field.data:
        return None
    try:
        day = parse_date(field.data)
    except DateParseError:
        field.errors = [*field.errors, _("Type a date year first, e.g. 1405/09/12 or 2026-12-03.")]
        return None
    start = datetime.combine(day + timedelta(days=1 if next_day else 0), datetime.min.time())
    return start.replace(tzinfo=tz)
