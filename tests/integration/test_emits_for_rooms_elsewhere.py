"""Every web process hears every emit on the Redis channel; only the one
whose sockets are in the room builds the packet for it."""

from __future__ import annotations

from typing import Any

import socketio as python_socketio
from socketio import packet

from callcenter.realtime import message_queue_options
from callcenter.realtime.managers import CoalescingRedisManager


class CountedPacket(packet.Packet):
    encoded = 0

    def encode(self) -> Any:
        CountedPacket.encoded += 1
        return super().encode()


def _message(room: str) -> dict[str, Any]:
    """As `_thread` hands an emit from another process to the manager."""
    return {
        "method": "emit",
        "event": "screen_pop",
        "data": [{"call": {"id": "call-1"}, "history": ["..."] * 50}],
        "binary": False,
        "namespace": "/",
        "room": room,
        "skip_sid": None,
        "callback": None,
        "host_id": "another-process",
    }


def test_an_emit_for_a_room_here_is_built_and_one_for_a_room_elsewhere_is_not(
    redis_url: str,
) -> None:
    options = message_queue_options(redis_url)
    manager = CoalescingRedisManager(options["message_queue"], channel=options["channel"])
    server = python_socketio.Server(client_manager=manager)
    server.packet_class = CountedPacket
    sid = manager.connect("eio-1", "/")
    manager.enter_room(sid, "/", "agent:1")
    CountedPacket.encoded = 0

    manager._handle_emit(_message("agent:1"))
    assert CountedPacket.encoded == 1

    manager._handle_emit(_message("agent:2"))
    assert CountedPacket.encoded == 1

    manager.leave_room(sid, "/", "agent:1")
    manager._handle_emit(_message("agent:1"))
    assert CountedPacket.encoded == 1
