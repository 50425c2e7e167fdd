"""Socket.IO connect: refuse anonymous sockets, join the rooms the role gives;
count the sockets this process holds (callcenter_socket_clients), hold each
one's user for its later events (`socket_users`) and start the sweep that
closes those of revoked logins."""

from __future__ import annotations

import threading
from typing import Any

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import join_room

from callcenter import prometheus, request_scope
from callcenter.auth.access import LOGIN_TOKEN
from callcenter.extensions import socketio
from callcenter.realtime.rooms import rooms_for
from callcenter.realtime.session_sweep import SessionSweep
from callcenter.realtime.socket_users import SocketUsers

_starting = threading.Lock()


def on_connect(_auth: Any = None) -> bool:
    if not current_user.is_authenticated or not current_user.is_active:
        return False
    if current_user.must_change_password:  # its first stop is choosing a password
        return False
    try:
        for room in rooms_for(request_scope.session(), current_user):
            join_room(room)
    finally:
        request_scope.close()
    prometheus.socket_connected()
    _start_sweep()
    held_users().hold(request.sid, session.get(LOGIN_TOKEN, ""), current_user._get_current_object())  # type: ignore[attr-defined]
    return True


def on_disconnect(_reason: Any = None) -> None:
    """Socket.IO calls this only for connections `on_connect` accepted."""
    prometheus.socket_disconnected()
    held_users().release(request.sid)  # type: ignore[attr-defined]


def held_users() -> SocketUsers:
    """The users of the sockets this process holds (on its client manager)."""
    users: SocketUsers = socketio.server.manager.held_users
    return users


def _start_sweep() -> SessionSweep:
    """This app's sweep, started with its first socket."""
    with _starting:
        sweep: SessionSweep | None = current_app.extensions.get("cc_session_sweep")
        if sweep is None:
            sweep = SessionSweep(
                current_app.extensions["cc_database"],
                held_users(),
                disconnect=lambda socket_id: socketio.server.disconnect(socket_id, namespace="/"),
            )
            current_app.extensions["cc_session_sweep"] = sweep
            socketio.start_background_task(sweep.run_forever, socketio.sleep)
    return sweep


def init_socketio() -> None:
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
