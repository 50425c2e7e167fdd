"""The agent's own work between calls, as Socket.IO events: dial by hand,
search leads, open and correct a customer, and their callbacks. Each parses,
calls a service and answers with the acknowledgement."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import current_user

from callcenter import request_scope
from callcenter.auth.access import socket_event
from callcenter.services import (
    agents,
    customer_details,
    lead_search,
    manual_dial,
    my_callbacks,
)
from callcenter.states import Role

AGENT = (Role.AGENT,)


def _data(args: tuple[Any, ...]) -> dict[str, Any]:
    return args[0] if args and isinstance(args[0], dict) else {}


def _dialed(dial: manual_dial.ManualDial) -> dict[str, Any]:
    session = request_scope.session()
    status = agents.status_of(session, current_user.id)
    return {
        "ok": True,
        "lead_id": dial.lead_id,
        "customer_id": dial.customer_id,
        "name": dial.customer_name,
        "phone_display": dial.phone_display,
        "agent": agents.state_payload(session, status),
    }


@socket_event("manual_dial", roles=AGENT)
def manual_dial_number(*args: Any) -> dict[str, Any]:
    dial = manual_dial.dial_number(
        request_scope.session(),
        current_user.id,
        _data(args).get("number"),
        bus=current_app.extensions["cc_bus"],
    )
    return _dialed(dial)


@socket_event("dial_customer", roles=AGENT)
def dial_customer(*args: Any) -> dict[str, Any]:
    data = _data(args)
    dial = manual_dial.dial_customer(
        request_scope.session(),
        current_user.id,
        data.get("customer_id"),
        data.get("which", "first"),
        bus=current_app.extensions["cc_bus"],
    )
    return _dialed(dial)


@socket_event("dial_callback", roles=AGENT)
def dial_callback(*args: Any) -> dict[str, Any]:
    dial = manual_dial.dial_callback(
        request_scope.session(),
        current_user.id,
        _data(args).get("callback_id"),
        bus=current_app.extensions["cc_bus"],
    )
    return _dialed(dial)


@socket_event("lead_search", roles=AGENT)
def search(*args: Any) -> dict[str, Any]:
    found = lead_search.search(request_scope.session(), current_user.id, _data(args).get("query"))
    return {"ok": True, "results": found}


@socket_event("customer_open", roles=AGENT)
def customer_open(*args: Any) -> dict[str, Any]:
    card = lead_search.open_customer(
        request_scope.session(), current_user.id, _data(args).get("customer_id")
    )
    return {"ok": True, **card}


@socket_event("customer_update", roles=AGENT)
def customer_update(*args: Any) -> dict[str, Any]:
    data = _data(args)
    customer = customer_details.update(
        request_scope.session(), current_user.id, data.get("customer_id"), data.get("changes")
    )
    locale = current_user.locale if current_user.locale in ("fa", "en") else "fa"
    return {"ok": True, "details": customer_details.details(customer, locale)}


@socket_event("callbacks_mine", roles=AGENT)
def callbacks_mine(*_args: Any) -> dict[str, Any]:
    return {
        "ok": True,
        "callbacks": my_callbacks.list_mine(request_scope.session(), current_user.id),
    }


@socket_event("callback_reschedule", roles=AGENT)
def callback_reschedule(*args: Any) -> dict[str, Any]:
    data = _data(args)
    session = request_scope.session()
    my_callbacks.reschedule(session, current_user.id, data.get("callback_id"), data.get("due_at"))
    return {"ok": True, "callbacks": my_callbacks.list_mine(session, current_user.id)}


@socket_event("callback_cancel", roles=AGENT)
def callback_cancel(*args: Any) -> dict[str, Any]:
    session = request_scope.session()
    my_callbacks.cancel(session, current_user.id, _data(args).get("callback_id"))
    return {"ok": True, "callbacks": my_callbacks.list_mine(session, current_user.id)}
