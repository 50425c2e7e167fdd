"""The live floor's Socket.IO events. Each parses, calls the live floor
service and returns the answer as the acknowledgement; `socket_event` checks
the role and commits (room pushes go after the commit). The server already
put the supervisor's socket in their campaigns' rooms on connect."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import current_user

from callcenter import request_scope, webphone
from callcenter.auth.access import STAFF_ROLES, socket_event
from callcenter.extensions import socketio
from callcenter.services import call_monitoring, recordings
from callcenter.services.floor import commands, queries
from callcenter.services.floor.projection import LiveFloor
from callcenter.services.floor.wiring import live_floor_of

STAFF = tuple(STAFF_ROLES)


def _data(args: tuple[Any, ...]) -> dict[str, Any]:
    return args[0] if args and isinstance(args[0], dict) else {}


def _floor() -> LiveFloor:
    return live_floor_of(current_app)


@socket_event("floor_state", roles=STAFF)
def floor_state(*_args: Any) -> dict[str, Any]:
    """On connect or reconnect: the whole floor; the snapshot loop starts."""
    floor = _floor()
    floor.start(socketio)
    return {"ok": True, **queries.floor_state(request_scope.session(), current_user, floor)}


@socket_event("floor_call_path", roles=STAFF)
def floor_call_path(*args: Any) -> dict[str, Any]:
    path = queries.call_path(request_scope.session(), current_user, _data(args).get("call_id"))
    return {"ok": True, **path}


@socket_event("floor_campaign_running", roles=STAFF)
def floor_campaign_running(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = commands.set_campaign_running(
        request_scope.session(),
        current_user,
        _floor(),
        data.get("campaign_id"),
        running=bool(data.get("running")),
    )
    return {"ok": True, **result}


@socket_event("floor_abandon_cap", roles=STAFF)
def floor_abandon_cap(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = commands.set_abandon_cap(
        request_scope.session(),
        current_user,
        _floor(),
        data.get("campaign_id"),
        data.get("percent"),
    )
    return {"ok": True, **result}


@socket_event("floor_dial_mode", roles=STAFF)
def floor_dial_mode(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = commands.set_dial_mode(
        request_scope.session(), current_user, _floor(), data.get("campaign_id"), data.get("mode")
    )
    return {"ok": True, **result}


@socket_event("floor_force_pause", roles=STAFF)
def floor_force_pause(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = commands.force_pause(
        request_scope.session(), current_user, data.get("agent_id"), data.get("reason")
    )
    return {"ok": True, **result}


@socket_event("floor_force_logout", roles=STAFF)
def floor_force_logout(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = commands.force_log_out(request_scope.session(), current_user, data.get("agent_id"))
    return {"ok": True, **result}


@socket_event("floor_message", roles=STAFF)
def floor_message(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = commands.message_agent(
        request_scope.session(), current_user, data.get("agent_id"), data.get("text")
    )
    return {"ok": True, **result}


@socket_event("floor_reassign_callback", roles=STAFF)
def floor_reassign_callback(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = commands.reassign_callback(
        request_scope.session(), current_user, data.get("callback_id"), data.get("agent_id")
    )
    return {"ok": True, **result}


@socket_event("floor_record_call", roles=STAFF)
def floor_record_call(*args: Any) -> dict[str, Any]:
    """On-demand campaigns: a supervisor starts recording a call of their floor."""
    call_id = str(_data(args).get("call_id") or "")
    recordings.request_recording(
        request_scope.session(), current_app.extensions["cc_bus"], current_user, call_id
    )
    return {"ok": True, "call_id": call_id}


@socket_event("floor_monitor_start", roles=STAFF)
def floor_monitor_start(*args: Any) -> dict[str, Any]:
    """Listen, whisper or barge on a call of the supervisor's floor, on their
    browser phone ("browser") or a SIP address."""
    data = _data(args)
    settings = current_app.extensions["cc_settings"]
    browser_phone = (
        webphone.agent_phone_uri(settings, current_user.id)
        if webphone.available(settings)
        else None
    )
    session = request_scope.session()
    monitor = call_monitoring.start(
        session,
        current_app.extensions["cc_bus"],
        current_user,
        data.get("call_id"),
        data.get("mode"),
        data.get("phone"),
        browser_phone=browser_phone,
        allowed_hosts=settings.dialer.allowed_agent_phone_hosts(),
    )
    return {"ok": True, "monitor": call_monitoring.payload(session, monitor)}


@socket_event("floor_monitor_mode", roles=STAFF)
def floor_monitor_mode(*args: Any) -> dict[str, Any]:
    data = _data(args)
    session = request_scope.session()
    monitor = call_monitoring.change_mode(
        session,
        current_app.extensions["cc_bus"],
        current_user,
        data.get("session_id"),
        data.get("mode"),
    )
    return {"ok": True, "monitor": call_monitoring.payload(session, monitor)}


@socket_event("floor_monitor_stop", roles=STAFF)
def floor_monitor_stop(*args: Any) -> dict[str, Any]:
    session = request_scope.session()
    monitor = call_monitoring.stop(
        session, current_app.extensions["cc_bus"], current_user, _data(args).get("session_id")
    )
    return {"ok": True, "monitor": call_monitoring.payload(session, monitor)}


@socket_event("floor_monitor_mine", roles=STAFF)
def floor_monitor_mine(*_args: Any) -> dict[str, Any]:
    """The supervisor's open monitoring, for a floor screen that was reloaded."""
    return {
        "ok": True,
        "monitor": call_monitoring.open_session_of(request_scope.session(), current_user),
    }
