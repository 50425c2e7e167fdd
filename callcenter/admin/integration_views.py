"""API tokens, webhooks and calendar feeds for other systems (admin role);
they join the admin blueprint."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from callcenter import request_scope
from callcenter.admin.views import bp
from callcenter.auth.access import allow_roles
from callcenter.auth.forms import ApiTokenForm, CalendarFeedForm, ConfirmForm, WebhookForm
from callcenter.dates import format_datetime
from callcenter.errors import DomainError
from callcenter.i18n import select_locale
from callcenter.services import (
    accounts,
    api_tokens,
    calendar_feeds,
    campaigns,
    sms,
    teams,
    webhooks,
)
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


# --- calendar feeds ------------------------------------------------------------------------


@bp.route("/calendar-feeds", methods=["GET", "POST"])
@allow_roles(Role.ADMIN)
def calendar_feeds_index() -> ResponseReturnValue:
    session = request_scope.session()
    form = CalendarFeedForm()
    people = [user for user in accounts.list_users(session) if user.is_salesperson]
    all_teams = teams.list_teams(session)
    form.owner.choices = [("", "—"), *((str(user.id), user.full_name) for user in people)]
    form.team.choices = [("", "—"), *((str(team.id), team.name) for team in all_teams)]
    if form.validate_on_submit():
        owner = next((u for u in people if str(u.id) == form.owner.data), None)
        team = next((t for t in all_teams if str(t.id) == form.team.data), None)
        try:
            feed, token = calendar_feeds.create_feed(
                session, owner=owner, team=team, actor=current_user
            )
        except DomainError as exc:
            form.owner.errors.append(exc.shown())
        else:
            url = url_for("calendars.feed", token=token, _external=True)
            return render_template(
                "admin/calendar_feed_shown.html",
                name=calendar_feeds.feed_name(session, feed),
                url=url,
            )
    feeds = calendar_feeds.list_feeds(session)
    return render_template(
        "admin/calendar_feeds.html",
        feeds=feeds,
        names={feed.id: calendar_feeds.feed_name(session, feed) for feed in feeds},
        form=form,
        confirm=ConfirmForm(),
        when=_when(),
    ), (422 if form.is_submitted() else 200)


@bp.post("/calendar-feeds/<int:feed_id>/revoke")
@allow_roles(Role.ADMIN)
def revoke_calendar_feed(feed_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        calendar_feeds.revoke_feed(request_scope.session(), feed_id, actor=current_user)
        flash(_("The calendar link no longer works."), "success")
    return redirect(url_for("admin.calendar_feeds_index"))


# --- the SMS log ---------------------------------------------------------------------------


@bp.get("/sms")
@allow_roles(Role.ADMIN)
def sms_log() -> ResponseReturnValue:
    return render_template(
        "admin/sms.html", messages=sms.recent(request_scope.session()), when=_when()
    )
