"""The SMS gateway's inbound webhook: customers' answers (opt-out keywords).
Public; the gateway's URL carries the configured secret (?token=...)."""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from callcenter import request_scope
from callcenter.auth.access import public
from callcenter.errors import N_, NotFound
from callcenter.extensions import csrf
from callcenter.services import sms

bp = Blueprint("sms", __name__, url_prefix="/sms")
csrf.exempt(bp)


@bp.route("/inbound", methods=["GET", "POST"])
@public
def inbound() -> ResponseReturnValue:
    settings = current_app.extensions["cc_settings"].sms
    given = request.values.get("token", "")
    if not settings.inbound_token or not hmac.compare_digest(given, settings.inbound_token):
        raise NotFound(N_("This page does not exist."))
    opted_out = sms.received(
        request_scope.session(),
        request.values.get("from", ""),
        request.values.get("message", ""),
        settings.opt_out_keywords,
    )
    return jsonify({"opted_out": opted_out})
