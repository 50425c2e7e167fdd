"""/api/v1/: thin views over the API services. Authenticated by API tokens
only (access.allow_token_roles); no session cookie, so no CSRF."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from callcenter import request_scope
from callcenter.api import openapi, shapes
from callcenter.auth.access import allow_token_roles, public
from callcenter.errors import N_, InvalidInput
from callcenter.extensions import csrf, limiter
from callcenter.models import ApiToken
from callcenter.services import api_leads, api_reads
from callcenter.states import Role

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

MANAGERS = (Role.MANAGER, Role.ADMIN)
STAFF = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)


def _rate_limit() -> str:
    return str(current_app.config["CC_API_RATE_LIMIT"])


def _token_key() -> str:
    """Per token (its hash: the limit is counted before the token is looked
    up, and a made-up token is limited like a real one)."""
    header = request.headers.get("Authorization", "")
    return "api:" + hashlib.sha256(header.encode()).hexdigest()


limiter.limit(_rate_limit, key_func=_token_key)(bp)


def _token() -> ApiToken:
    token: ApiToken = g.api_token
    return token


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(N_("the request body must be a JSON object"))
    return body


def _int_arg(name: str) -> int | None:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(
            N_("%(field)s must be a whole number"), details={"field": name}, field=name
        ) from None


@bp.get("/openapi.json")
@public
def openapi_document() -> ResponseReturnValue:
    return jsonify(openapi.document())


@bp.post("/campaigns/<int:campaign_id>/leads")
@allow_token_roles(*MANAGERS)
def add_leads(campaign_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    lead_list_id, results = api_leads.add_leads(
        session, _token(), campaign_id, _body().get("leads")
    )
    lead_ids = api_leads.lead_ids_by_phone(
        session, campaign_id, [r.phone for r in results if r.phone]
    )
    rows = [shapes.record_result(result, lead_ids) for result in results]
    imported = sum(1 for row in rows if row["status"] == "imported")
    return jsonify({"lead_list_id": lead_list_id, "imported": imported, "rows": rows}), 200


@bp.get("/leads")
@allow_token_roles(*MANAGERS)
def search_leads() -> ResponseReturnValue:
    found = api_leads.search_leads(
        request_scope.session(),
        _token(),
        campaign_id=_int_arg("campaign_id"),
        phone=request.args.get("phone"),
        state=request.args.get("state"),
        limit=_int_arg("limit") or api_leads.SEARCH_LIMIT,
    )
    return jsonify({"leads": [shapes.lead(lead) for lead in found]})


@bp.get("/leads/<int:lead_id>")
@allow_token_roles(*MANAGERS)
def get_lead(lead_id: int) -> ResponseReturnValue:
    return jsonify(shapes.lead(api_leads.get_lead(request_scope.session(), _token(), lead_id)))


@bp.patch("/leads/<int:lead_id>")
@allow_token_roles(*MANAGERS)
def update_lead(lead_id: int) -> ResponseReturnValue:
    lead = api_leads.update_lead(request_scope.session(), _token(), lead_id, _body())
    return jsonify(shapes.lead(lead))


@bp.post("/leads/<int:lead_id>/callbacks")
@allow_token_roles(*STAFF)
def schedule_callback(lead_id: int) -> ResponseReturnValue:
    body = _body()
    callback = api_leads.schedule_callback(
        request_scope.session(),
        _token(),
        lead_id,
        due_at=body.get("due_at"),
        agent_id=body.get("agent_id"),
        note=body.get("note", ""),
    )
    return jsonify(shapes.callback(callback)), 201


@bp.post("/dnc")
@allow_token_roles(*MANAGERS)
def add_dnc() -> ResponseReturnValue:
    body = _body()
    campaign_id = body.get("campaign_id")
    if campaign_id is not None and not isinstance(campaign_id, int):
        raise InvalidInput(
            N_("%(field)s must be a whole number"),
            details={"field": "campaign_id"},
            field="campaign_id",
        )
    entry = api_leads.add_dnc(
        request_scope.session(),
        _token(),
        body.get("phone"),
        campaign_id=campaign_id,
        reason=body.get("reason", ""),
    )
    return jsonify(shapes.dnc_entry(entry)), 201


@bp.delete("/dnc")
@allow_token_roles(*MANAGERS)
def remove_dnc() -> ResponseReturnValue:
    api_leads.remove_dnc(
        request_scope.session(),
        _token(),
        request.args.get("phone"),
        campaign_id=_int_arg("campaign_id"),
    )
    return "", 204


@bp.post("/campaigns/<int:campaign_id>/pause")
@allow_token_roles(*MANAGERS)
def pause_campaign(campaign_id: int) -> ResponseReturnValue:
    status = api_leads.set_campaign_running(
        request_scope.session(), _token(), campaign_id, running=False
    )
    return jsonify({"id": campaign_id, "status": str(status)})


@bp.post("/campaigns/<int:campaign_id>/resume")
@allow_token_roles(*MANAGERS)
def resume_campaign(campaign_id: int) -> ResponseReturnValue:
    status = api_leads.set_campaign_running(
        request_scope.session(), _token(), campaign_id, running=True
    )
    return jsonify({"id": campaign_id, "status": str(status)})


@bp.get("/calls/<call_id>")
@allow_token_roles(*STAFF)
def get_call(call_id: str) -> ResponseReturnValue:
    detail = api_reads.call_detail(request_scope.session(), _token(), call_id)
    url = (
        url_for("recordings.player", call_id=call_id, _external=True)
        if detail.recording is not None
        else None
    )
    return jsonify(shapes.call(detail, url))


@bp.get("/appointments")
@allow_token_roles(*STAFF)
def list_appointments() -> ResponseReturnValue:
    found = api_reads.appointments(
        request_scope.session(),
        _token(),
        campaign_id=_int_arg("campaign_id"),
        since=request.args.get("since"),
        until=request.args.get("until"),
        status=request.args.get("status"),
    )
    return jsonify({"appointments": [shapes.appointment(row) for row in found]})
