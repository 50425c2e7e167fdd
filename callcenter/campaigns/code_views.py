"""The business's codes: pause codes (one list) and each campaign's
dispositions, kept by managers. Every change is a small POST that redirects
back to its list; the services check and audit it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from callcenter import request_scope
from callcenter.auth.access import allow_roles
from callcenter.auth.forms import ConfirmForm
from callcenter.campaigns.views import MANAGERS, bp
from callcenter.errors import DomainError
from callcenter.services import campaigns, disposition_codes, pause_codes
from callcenter.states import DispositionCategory

MOVES = {"up": -1, "down": 1}


@bp.get("/pause-codes")
@allow_roles(*MANAGERS)
def pause_code_list() -> ResponseReturnValue:
    return render_template(
        "campaigns/pause_codes.html",
        codes=pause_codes.all_codes(request_scope.session()),
        confirm=ConfirmForm(),
    )


@bp.post("/pause-codes")
@allow_roles(*MANAGERS)
def pause_code_add() -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        _attempt(
            lambda: pause_codes.create(
                request_scope.session(),
                actor=current_user,
                code=request.form.get("code"),
                **_pause_fields(),
            ),
            _("Pause code added."),
        )
    return redirect(url_for("campaigns.pause_code_list"))


@bp.post("/pause-codes/<code>")
@allow_roles(*MANAGERS)
def pause_code_change(code: str) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        session = request_scope.session()
        action = request.form.get("action", "save")
        if action in MOVES:
            _attempt(lambda: pause_codes.move(session, code, MOVES[action], actor=current_user))
        elif action in ("activate", "deactivate"):
            _attempt(
                lambda: pause_codes.set_active(
                    session, code, action == "activate", actor=current_user
                ),
                _("Pause code %(code)s changed.", code=code),
            )
        else:
            _attempt(
                lambda: pause_codes.update(session, code, actor=current_user, **_pause_fields()),
                _("Pause code %(code)s changed.", code=code),
            )
    return redirect(url_for("campaigns.pause_code_list"))


@bp.get("/<int:campaign_id>/dispositions")
@allow_roles(*MANAGERS)
def disposition_list(campaign_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    campaign = campaigns.get_campaign(session, campaign_id)
    rows = disposition_codes.for_campaign(session, campaign.id)
    return render_template(
        "campaigns/dispositions.html",
        campaign=campaign,
        codes=rows,
        used=disposition_codes.used_codes(session, campaign.id),
        categories=[category.value for category in DispositionCategory],
        confirm=ConfirmForm(),
    )


@bp.post("/<int:campaign_id>/dispositions")
@allow_roles(*MANAGERS)
def disposition_add(campaign_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    campaign = campaigns.get_campaign(session, campaign_id)
    if ConfirmForm().validate_on_submit():
        _attempt(
            lambda: disposition_codes.create(
                session,
                campaign,
                actor=current_user,
                code=request.form.get("code"),
                **_disposition_fields(),
            ),
            _("Disposition added."),
        )
    return redirect(url_for("campaigns.disposition_list", campaign_id=campaign.id))


@bp.post("/<int:campaign_id>/dispositions/<code>")
@allow_roles(*MANAGERS)
def disposition_change(campaign_id: int, code: str) -> ResponseReturnValue:
    session = request_scope.session()
    campaign = campaigns.get_campaign(session, campaign_id)
    if ConfirmForm().validate_on_submit():
        action = request.form.get("action", "save")
        changed = _("Disposition %(code)s changed.", code=code)
        if action in MOVES:
            _attempt(
                lambda: disposition_codes.move(
                    session, campaign.id, code, MOVES[action], actor=current_user
                )
            )
        elif action in ("activate", "deactivate"):
            _attempt(
                lambda: disposition_codes.set_active(
                    session, campaign.id, code, action == "activate", actor=current_user
                ),
                changed,
            )
        elif action == "delete":
            _attempt(
                lambda: disposition_codes.delete(session, campaign.id, code, actor=current_user),
                _("Disposition %(code)s deleted.", code=code),
            )
        else:
            _attempt(
                lambda: disposition_codes.update(
                    session, campaign.id, code, actor=current_user, **_disposition_fields()
                ),
                changed,
            )
    return redirect(url_for("campaigns.disposition_list", campaign_id=campaign.id))


def _attempt(change: Callable[[], object], done: str | None = None) -> None:
    """Run a service change; its refusal is shown to the manager, the rest rolled back."""
    session = request_scope.session()
    try:
        with session.begin_nested():
            change()
    except DomainError as exc:
        flash(exc.shown(), "error")
        return
    if done:
        flash(done, "success")


def _pause_fields() -> dict[str, Any]:
    form = request.form
    return {
        "label_fa": form.get("label_fa"),
        "label_en": form.get("label_en"),
        "limit_minutes": form.get("limit_minutes"),
        "is_paid": form.get("is_paid"),
    }


def _disposition_fields() -> dict[str, Any]:
    form = request.form
    return {
        "label_fa": form.get("label_fa"),
        "label_en": form.get("label_en"),
        "category": form.get("category"),
        "retry_minutes": form.get("retry_minutes"),
    }
