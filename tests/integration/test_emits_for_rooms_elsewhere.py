"""Every web process hears every emit on the Redis channel; only the one
whose sockets are in the room builds the packet for it."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import redis
import socketio as python_socketio
from socketio import packet

from callcenter.realtime import message_queue_options, wire_json
from callcenter.realtime.coalesce import CALLS, DELTA_EVENT, single_delta
from callcenter.realtime.managers import (
    _EMIT_HEAD,
    BatchingRedisManager,
    CoalescingRedisManager,
    _head_first,
)


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


class CountedJSON:
    """The wire JSON, counting what the listener decodes."""

    def __init__(self) -> None:
        self.decoded: list[Any] = []

    def dumps(self, data: Any, **options: Any) -> str:
        return wire_json.dumps(data, **options)

    def loads(self, text: str | bytes) -> Any:
        found = wire_json.loads(text)
        self.decoded.append(found)
        return found


@pytest.fixture
def channel(redis_url: str) -> str:
    """A channel of this test's own: the listener's thread outlives it."""
    return f"{message_queue_options(redis_url)['channel']}-{uuid.uuid4().hex[:8]}"


def _listening(redis_url: str, channel: str) -> tuple[CoalescingRedisManager, str]:
    """A web process's manager hearing the queue, with one socket in agent:1."""
    manager = CoalescingRedisManager(redis_url, channel=channel)
    python_socketio.Server(client_manager=manager, json=wire_json, async_mode="threading")
    sid = manager.connect("eio-1", "/")
    manager.enter_room(sid, "/", "agent:1")
    manager.initialize()
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 5
    while dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) < 1:
        assert time.monotonic() < deadline, "the listener did not subscribe"
        time.sleep(0.02)
    client.close()
    return manager, sid


def _delivered(manager: CoalescingRedisManager, sends: list[Any], count: int) -> None:
    deadline = time.monotonic() + 5
    while len(sends) < count:
        assert time.monotonic() < deadline, f"{len(sends)} of {count} delivered"
        time.sleep(0.02)


@pytest.mark.redis
def test_an_emit_for_a_room_elsewhere_is_skipped_without_decoding_it(
    redis_url: str, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a real Redis queue: the screen pop for a room held here is
    delivered; one for a room elsewhere and this process's own emit are not
    decoded; a message in another encoding (python-socketio's own key order,
    as an older process publishes it) is decoded and delivered as before."""
    listener, _sid = _listening(redis_url, channel)
    counted = CountedJSON()
    listener.json = counted  # type: ignore[assignment]
    sends: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        listener.server,
        "_send_eio_packet",
        lambda eio_sid, pkt: sends.append((eio_sid, json.loads(pkt.data[1:]))),
    )
    publisher = BatchingRedisManager(redis_url, channel=channel, write_only=True)
    python_socketio.Server(client_manager=publisher, json=wire_json, async_mode="threading")
    pop = {"call": {"id": "call-1"}, "history": ["an earlier call"] * 50}

    publisher.emit("screen_pop", pop, room="agent:2")
    listener.emit("screen_pop", {"call": {"id": "call-0"}}, room="agent:3")  # its own
    publisher.emit("screen_pop", pop, room="agent:1")
    older = {**_message("agent:1"), "host_id": "an-older-process"}
    redis.Redis.from_url(redis_url).publish(channel, json.dumps(older))

    _delivered(listener, sends, 2)
    assert [data for _eio, data in sends] == [
        ["screen_pop", pop],
        ["screen_pop", older["data"][0]],
    ]
    assert [message["room"] for message in counted.decoded] == ["agent:1", "agent:1"]
    assert [message["host_id"] for message in counted.decoded] == [
        publisher.host_id,
        "an-older-process",
    ]


@pytest.mark.redis
def test_a_floor_delta_for_a_room_elsewhere_is_still_coalesced(
    redis_url: str, channel: str
) -> None:
    """A delta is merged where it is heard, before its room's sockets are
    looked at (a supervisor joining within the window gets it): not skipped."""
    listener, _sid = _listening(redis_url, channel)
    counted = CountedJSON()
    listener.json = counted  # type: ignore[assignment]
    publisher = BatchingRedisManager(redis_url, channel=channel, write_only=True)
    python_socketio.Server(client_manager=publisher, json=wire_json, async_mode="threading")
    publisher.emit(DELTA_EVENT, single_delta(CALLS, {"call_id": "c1"}), room="campaign:9")
    publisher.emit("screen_pop", {"call": {"id": "call-2"}}, room="agent:1")
    deadline = time.monotonic() + 5
    while len(counted.decoded) < 2:
        assert time.monotonic() < deadline, "not heard"
        time.sleep(0.02)
    assert [message["event"] for message in counted.decoded] == [DELTA_EVENT, "screen_pop"]


def test_an_emit_is_published_with_its_head_first() -> None:
    """The listener reads who sent it and where it goes before the data;
    every other key is python-socketio's as it was."""
    message = _message("agent:1")
    encoded = wire_json.dumps(_head_first(message)).encode()
    assert encoded.startswith(
        b'{"method":"emit","host_id":"another-process","event":"screen_pop",'
        b'"namespace":"/","room":"agent:1",'
    )
    assert wire_json.loads(encoded) == message
    odd = {**message, "room": 'agent:"1"\\'}  # decoded as before
    assert _EMIT_HEAD.match(wire_json.dumps(_head_first(odd)).encode()) is None
    to_many = {**message, "room": ["agent:1", "agent:2"]}
    assert _EMIT_HEAD.match(wire_json.dumps(_head_first(to_many)).encode()) is None
