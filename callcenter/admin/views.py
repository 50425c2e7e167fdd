"""User administration (admin role)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from callcenter import request_scope
from callcenter.auth.access import allow_roles
from callcenter.auth.forms import ConfirmForm, UserCreateForm, UserEditForm
from callcenter.errors import DomainError
from callcenter.models import Team
from callcenter.services import accounts
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
            if user.is_active != form.is_active.data:
                accounts.set_active(session, user, bool(form.is_active.data), actor=current_user)
        except DomainError as exc:
            form.form_errors.append(exc.shown())
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
