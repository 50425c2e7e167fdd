"""Socket.IO connect: refuse anonymous sockets, join the rooms the role gives;
count the sockets this process holds (callcenter_socket_clients)."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_socketio import join_room

from callcenter import prometheus, request_scope
from callcenter.extensions import socketio
from callcenter.realtime.rooms import rooms_for


def on_connect(_auth: Any = None) -> bool:
    if not current_user.is_authenticated or not current_user.is_active:
        return False
    try:
        for room in rooms_for(request_scope.session(), current_user):
            join_room(room)
    finally:
        request_scope.close()
    prometheus.socket_connected()
    return True


def on_disconnect(_reason: Any = None) -> None:
    """Socket.IO calls this only for connections `on_connect` accepted."""
    prometheus.socket_disconnected()


def init_socketio() -> None:
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
