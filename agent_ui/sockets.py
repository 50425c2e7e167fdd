"""The workstation's Socket.IO events. Each one parses, calls a service and
returns the answer as the acknowledgement; `socket_event` checks the role,
runs one unit of work and commits (pushes to rooms go after the commit)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import current_user

from callcenter import request_scope, webphone
from callcenter.auth.access import socket_event
from callcenter.events import CallHangupRequested
from callcenter.services import agents, appointments, dispositions, recordings, workstation
from callcenter.services.bus_outbox import publish_after_commit
from callcenter.states import Role

AGENT = (Role.AGENT,)
# Applied under socket_event: a lost SQLite write lock re-runs the handler's unit of work.


def _data(args: tuple[Any, ...]) -> dict[str, Any]:
    return args[0] if args and isinstance(args[0], dict) else {}


def _bus() -> Any:
    return current_app.extensions["cc_bus"]


def _state(status: Any) -> dict[str, Any]:
    return {"ok": True, "agent": agents.state_payload(request_scope.session(), status)}


@socket_event("resume", roles=AGENT)
def resume(*_args: Any) -> dict[str, Any]:
    """After a reload or reconnect: the current state, call, step and notes."""
    return {"ok": True, **workstation.current_view(request_scope.session(), current_user.id)}


@socket_event("join_campaign", roles=AGENT)
def join_campaign(*args: Any) -> dict[str, Any]:
    data = _data(args)
    settings = current_app.extensions["cc_settings"]
    browser_phone = (
        webphone.agent_phone_uri(settings, current_user.id)
        if webphone.available(settings)
        else None
    )
    status = agents.join_campaign(
        request_scope.session(),
        current_user.id,
        data.get("campaign_id"),
        data.get("phone"),
        browser_phone=browser_phone,
        allowed_hosts=settings.dialer.allowed_agent_phone_hosts(),
    )
    return _state(status)


@socket_event("go_ready", roles=AGENT)
def go_ready(*_args: Any) -> dict[str, Any]:
    return _state(agents.go_ready(request_scope.session(), current_user.id))


@socket_event("pause", roles=AGENT)
def pause(*args: Any) -> dict[str, Any]:
    reason = _data(args).get("reason")
    return _state(agents.pause(request_scope.session(), current_user.id, reason))


@socket_event("agent_logout", roles=AGENT)
def agent_logout(*_args: Any) -> dict[str, Any]:
    return _state(agents.log_out(request_scope.session(), current_user.id))


@socket_event("script_move", roles=AGENT)
def script_move(*args: Any) -> dict[str, Any]:
    data = _data(args)
    moved = workstation.move_step(
        request_scope.session(),
        current_user.id,
        data.get("call_id"),
        data.get("kind"),
        data.get("step"),
    )
    return {"ok": True, **moved}


@socket_event("script_reject", roles=AGENT)
def script_reject(*args: Any) -> dict[str, Any]:
    data = _data(args)
    recorded = workstation.record_rejection(
        request_scope.session(),
        current_user.id,
        data.get("call_id"),
        data.get("step"),
        data.get("reason_code"),
        data.get("reason_text"),
    )
    return {"ok": True, **recorded}


@socket_event("slots_free", roles=AGENT)
def slots_free(*args: Any) -> dict[str, Any]:
    data = _data(args)
    slots = workstation.free_slots_view(
        request_scope.session(),
        current_user.id,
        data.get("call_id"),
        salesperson_id=appointments.parse_salesperson(data.get("salesperson_id")),
    )
    return {"ok": True, "slots": slots}


@socket_event("booking_slots", roles=AGENT)
def booking_slots(*args: Any) -> dict[str, Any]:
    data = _data(args)
    offered = workstation.slots_for_salesperson(
        request_scope.session(),
        current_user.id,
        data.get("call_id"),
        salesperson_id=appointments.parse_salesperson(data.get("salesperson_id")),
    )
    return {"ok": True, **offered}


@socket_event("appointment_book", roles=AGENT)
def appointment_book(*args: Any) -> dict[str, Any]:
    data = _data(args)
    session = request_scope.session()
    call = workstation.open_call(session, current_user.id, data.get("call_id"), lock=True)
    appointment = appointments.book(
        session,
        call,
        starts_at=appointments.parse_start(data.get("starts_at")),
        kind=appointments.parse_kind(data.get("kind")),
        address=str(data.get("address") or ""),
        link=str(data.get("link") or ""),
        salesperson_id=appointments.parse_salesperson(data.get("salesperson_id")),
        bus=_bus(),
    )
    return {"ok": True, **workstation.after_booking(session, call, appointment)}


@socket_event("notes_save", roles=AGENT)
def notes_save(*args: Any) -> dict[str, Any]:
    data = _data(args)
    workstation.save_notes(
        request_scope.session(), current_user.id, data.get("call_id"), data.get("text")
    )
    return {"ok": True, "call_id": data.get("call_id")}


@socket_event("hangup", roles=AGENT)
def hangup(*args: Any) -> dict[str, Any]:
    session = request_scope.session()
    call = workstation.open_call(session, current_user.id, _data(args).get("call_id"))
    publish_after_commit(
        session, _bus(), CallHangupRequested(call_id=call.id, agent_id=current_user.id)
    )
    return {"ok": True, "call_id": call.id}


@socket_event("record_call", roles=AGENT)
def record_call(*args: Any) -> dict[str, Any]:
    """On-demand campaigns: the agent starts recording their own call."""
    session = request_scope.session()
    call = workstation.open_call(session, current_user.id, _data(args).get("call_id"))
    recordings.request_recording(session, _bus(), current_user, call.id)
    return {"ok": True, "call_id": call.id}


def _disposition_options(data: dict[str, Any]) -> dict[str, Any]:
    rejection = data.get("rejection")
    return {
        "notes": data.get("notes"),
        "callback_at": data.get("callback_at"),
        "callback_mine": data.get("callback_for") != "anyone",
        "rejection": rejection if isinstance(rejection, dict) else None,
    }


@socket_event("disposition_set", roles=AGENT)
def disposition_set(*args: Any) -> dict[str, Any]:
    data = _data(args)
    disposition = dispositions.set_disposition(
        request_scope.session(),
        current_user.id,
        data.get("call_id"),
        data.get("code"),
        **_disposition_options(data),
    )
    return {"ok": True, "call_id": disposition.call_id, "code": str(disposition.code)}


@socket_event("disposition_set_and_pause", roles=AGENT)
def disposition_set_and_pause(*args: Any) -> dict[str, Any]:
    """ "Save and pause": both in this one unit of work, or neither."""
    data = _data(args)
    session = request_scope.session()
    disposition, status = dispositions.set_disposition_and_pause(
        session,
        current_user.id,
        data.get("call_id"),
        data.get("code"),
        data.get("reason"),
        **_disposition_options(data),
    )
    return {
        "ok": True,
        "call_id": disposition.call_id,
        "code": str(disposition.code),
        "agent": agents.state_payload(session, status),
    }


@socket_event("wrap_up_expired", roles=AGENT)
def wrap_up_expired(*args: Any) -> dict[str, Any]:
    data = _data(args)
    disposition = dispositions.expire_wrap_up(
        request_scope.session(), current_user.id, data.get("call_id"), notes=data.get("notes")
    )
    return {"ok": True, "code": str(disposition.code) if disposition else None}


@socket_event("preview_start", roles=AGENT)
def preview_start(*args: Any) -> dict[str, Any]:
    lead = workstation.start_preview(
        request_scope.session(), current_user.id, _data(args).get("lead_id"), bus=_bus()
    )
    return {"ok": True, "lead_id": lead.id}


@socket_event("preview_skip", roles=AGENT)
def preview_skip(*args: Any) -> dict[str, Any]:
    data = _data(args)
    session = request_scope.session()
    lead = workstation.skip_preview(
        session,
        current_user.id,
        data.get("lead_id"),
        data.get("reason"),
        data.get("text"),
        bus=_bus(),
    )
    status = agents.status_of(session, current_user.id)
    return {"ok": True, "lead_id": lead.id, "agent": agents.state_payload(session, status)}
