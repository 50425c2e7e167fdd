"""API tokens and webhooks for other systems (admin role); they join the admin blueprint."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from callcenter import request_scope
from callcenter.admin.views import bp
from callcenter.auth.access import allow_roles
from callcenter.auth.forms import ApiTokenForm, ConfirmForm, WebhookForm
from callcenter.dates import format_datetime
from callcenter.errors import DomainError
from callcenter.i18n import select_locale
from callcenter.services import api_tokens, campaigns, webhooks
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


# --- webhooks ------------------------------------------------------------------------------


@bp.route("/webhooks", methods=["GET", "POST"])
@allow_roles(Role.ADMIN)
def webhooks_index() -> ResponseReturnValue:
    session = request_scope.session()
    form = WebhookForm()
    form.events.choices = [(event, event) for event in webhooks.EVENTS]
    if form.validate_on_submit():
        try:
            subscription = webhooks.create_subscription(
                session,
                name=form.name.data or "",
                url=form.url.data or "",
                events=form.events.data or [],
                actor=current_user,
            )
        except DomainError as exc:
            field = getattr(form, str(exc.details.get("field", "")), None)
            (field.errors if field is not None else form.form_errors).append(exc.shown())
        else:
            return redirect(url_for("admin.webhook_detail", webhook_id=subscription.id))
    return render_template(
        "admin/webhooks.html", subscriptions=webhooks.list_subscriptions(session), form=form
    ), (422 if form.is_submitted() else 200)


@bp.get("/webhooks/<int:webhook_id>")
@allow_roles(Role.ADMIN)
def webhook_detail(webhook_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    subscription = webhooks.get_subscription(session, webhook_id)
    return render_template(
        "admin/webhook.html",
        subscription=subscription,
        log=webhooks.delivery_log(session, subscription.id),
        confirm=ConfirmForm(),
        when=_when(),
    )


@bp.post("/webhooks/<int:webhook_id>/test")
@allow_roles(Role.ADMIN)
def webhook_test(webhook_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    subscription = webhooks.get_subscription(session, webhook_id)
    if ConfirmForm().validate_on_submit():
        webhooks.enqueue_test(session, subscription, actor=current_user)
        current_app.extensions["cc_webhook_worker"].wake()
        flash(_("A test event is on its way; its answer appears below."), "success")
    return redirect(url_for("admin.webhook_detail", webhook_id=webhook_id))


@bp.post("/webhooks/<int:webhook_id>/active")
@allow_roles(Role.ADMIN)
def webhook_active(webhook_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    subscription = webhooks.get_subscription(session, webhook_id)
    if ConfirmForm().validate_on_submit():
        active = request.form.get("active") == "1"
        webhooks.set_active(session, subscription, active, actor=current_user)
    return redirect(url_for("admin.webhook_detail", webhook_id=webhook_id))
