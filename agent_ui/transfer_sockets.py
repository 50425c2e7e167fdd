"""The workstation's transfer events: the agent's own live call only (the
transfers service checks it), each answer the acknowledgement; the other
agent hears of it through `transfer_changed` and `screen_pop` pushes."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import current_user

from callcenter import request_scope
from callcenter.auth.access import socket_event
from callcenter.services import transfers
from callcenter.states import Role

AGENT = (Role.AGENT,)


def _data(args: tuple[Any, ...]) -> dict[str, Any]:
    return args[0] if args and isinstance(args[0], dict) else {}


@socket_event("transfer_targets", roles=AGENT)
def transfer_targets(*_args: Any) -> dict[str, Any]:
    return {"ok": True, **transfers.targets(request_scope.session(), current_user.id)}


@socket_event("transfer_start", roles=AGENT)
def transfer_start(*args: Any) -> dict[str, Any]:
    data = _data(args)
    session = request_scope.session()
    transfer = transfers.start(
        session,
        current_user.id,
        data.get("call_id"),
        kind=data.get("kind"),
        target=data.get("target"),
        to_agent_id=data.get("to_agent_id"),
        to_team_id=data.get("to_team_id"),
        to_number=data.get("to_number"),
        bus=current_app.extensions["cc_bus"],
    )
    return {"ok": True, "transfer": transfers.payload(session, transfer)}


@socket_event("transfer_action", roles=AGENT)
def transfer_action(*args: Any) -> dict[str, Any]:
    data = _data(args)
    session = request_scope.session()
    transfer = transfers.act(
        session,
        current_user.id,
        data.get("transfer_id"),
        data.get("action"),
        bus=current_app.extensions["cc_bus"],
    )
    return {"ok": True, "transfer": transfers.payload(session, transfer)}
