"""API tokens for other systems (admin role); they join the admin blueprint."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from callcenter import request_scope
from callcenter.admin.views import bp
from callcenter.auth.access import allow_roles
from callcenter.auth.forms import ApiTokenForm, ConfirmForm
from callcenter.dates import format_datetime
from callcenter.errors import DomainError
from callcenter.i18n import select_locale
from callcenter.services import api_tokens, campaigns
from callcenter.states import Role


def _when() -> object:
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    locale = select_locale()
    return lambda at: format_datetime(at, locale, tz=tz, style="short") if at else "—"


@bp.route("/api-tokens", methods=["GET", "POST"])
@allow_roles(Role.ADMIN)
def api_tokens_index() -> ResponseReturnValue:
    session = request_scope.session()
    form = ApiTokenForm()
    open_campaigns = campaigns.list_campaigns(session)
    form.campaigns.choices = [(campaign.id, campaign.name) for campaign in open_campaigns]
    if form.validate_on_submit():
        chosen = set(form.campaigns.data or [])
        try:
            row, token = api_tokens.create_token(
                session,
                name=form.name.data or "",
                role=Role(form.role.data),
                campaigns=[c for c in open_campaigns if c.id in chosen],
                all_campaigns=bool(form.all_campaigns.data),
                actor=current_user,
            )
        except DomainError as exc:
            field = getattr(form, str(exc.details.get("field", "")), None)
            (field.errors if field is not None else form.form_errors).append(exc.shown())
        else:
            return render_template("admin/api_token_shown.html", row=row, token=token)
    return render_template(
        "admin/api_tokens.html",
        tokens=api_tokens.list_tokens(session),
        form=form,
        confirm=ConfirmForm(),
        when=_when(),
    ), (422 if form.is_submitted() else 200)


@bp.post("/api-tokens/<int:token_id>/revoke")
@allow_roles(Role.ADMIN)
def revoke_api_token(token_id: int) -> ResponseReturnValue:
    form = ConfirmForm()
    if form.validate_on_submit():
        row = api_tokens.revoke_token(request_scope.session(), token_id, actor=current_user)
        flash(_("Token %(name)s revoked.", name=row.name), "success")
    return redirect(url_for("admin.api_tokens_index"))
