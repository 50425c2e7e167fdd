"""Socket.IO connect: refuse anonymous sockets, join the rooms the role gives."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_socketio import join_room

from callcenter import request_scope
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
    return True


def init_socketio() -> None:
    socketio.on_event("connect", on_connect)
