"""The live floor's Socket.IO events. Each parses, calls the live floor
service and returns the answer as the acknowledgement; `socket_event` checks
the role and commits (room pushes go after the commit). The server already
put the supervisor's socket in their campaigns' rooms on connect."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import current_user

from callcenter import request_scope
from callcenter.auth.access import STAFF_ROLES, socket_event
from callcenter.extensions import socketio
from callcenter.services import live_floor

STAFF = tuple(STAFF_ROLES)


def _data(args: tuple[Any, ...]) -> dict[str, Any]:
    return args[0] if args and isinstance(args[0], dict) else {}


def _floor() -> live_floor.LiveFloor:
    return live_floor.live_floor_of(current_app)


@socket_event("floor_state", roles=STAFF)
def floor_state(*_args: Any) -> dict[str, Any]:
    """On connect or reconnect: the whole floor; the snapshot loop starts."""
    floor = _floor()
    floor.start(socketio)
    return {"ok": True, **live_floor.floor_state(request_scope.session(), current_user, floor)}


@socket_event("floor_call_path", roles=STAFF)
def floor_call_path(*args: Any) -> dict[str, Any]:
    path = live_floor.call_path(request_scope.session(), current_user, _data(args).get("call_id"))
    return {"ok": True, **path}


@socket_event("floor_campaign_running", roles=STAFF)
def floor_campaign_running(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = live_floor.set_campaign_running(
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
    result = live_floor.set_abandon_cap(
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
    result = live_floor.set_dial_mode(
        request_scope.session(), current_user, _floor(), data.get("campaign_id"), data.get("mode")
    )
    return {"ok": True, **result}


@socket_event("floor_force_pause", roles=STAFF)
def floor_force_pause(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = live_floor.force_pause(
        request_scope.session(), current_user, data.get("agent_id"), data.get("reason")
    )
    return {"ok": True, **result}


@socket_event("floor_force_logout", roles=STAFF)
def floor_force_logout(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = live_floor.force_log_out(request_scope.session(), current_user, data.get("agent_id"))
    return {"ok": True, **result}


@socket_event("floor_message", roles=STAFF)
def floor_message(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = live_floor.message_agent(
        request_scope.session(), current_user, data.get("agent_id"), data.get("text")
    )
    return {"ok": True, **result}


@socket_event("floor_reassign_callback", roles=STAFF)
def floor_reassign_callback(*args: Any) -> dict[str, Any]:
    data = _data(args)
    result = live_floor.reassign_callback(
        request_scope.session(), current_user, data.get("callback_id"), data.get("agent_id")
    )
    return {"ok": True, **result}
