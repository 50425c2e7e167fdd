"""What a web process spends on each message it hears on the Socket.IO Redis
queue, by kind: a screen pop for a room one of its sockets is in, one for a
room elsewhere (another web process's agent), its own emit (handled as it was
made), and a floor delta for a room here.

    PYTHONPATH=. .venv/bin/python -m bench.queue_heard [--messages 5000] [--history 20]
        [--rounds 3]

The messages are encoded as the processes publish them (`BatchingRedisManager`
inside `publishes_together`) and fed to the listening loop python-socketio
runs (`PubSubManager._thread`) in place of Redis's; the sockets' sends are
dropped. Printed per kind: the listening thread's CPU per message (the
fastest of the rounds, and the slowest) and the message's size. Run with the
old code on PYTHONPATH (this file copied in) to compare."""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import socketio as python_socketio
from socketio import RedisManager

from callcenter.realtime import wire_json
from callcenter.realtime.coalesce import CALLS, DELTA_EVENT, single_delta
from callcenter.realtime.managers import (
    BatchingRedisManager,
    CoalescingRedisManager,
    publishes_together,
)

URL = "redis://127.0.0.1:1/0"  # never reached: nothing is published or heard through it


def _pop(history: int) -> dict[str, Any]:
    """A screen pop's shape: the call, the customer, their earlier calls."""
    return {
        "call": {"id": "c-0001", "campaign_id": 1, "lead_id": 1234, "direction": "outbound"},
        "customer": {
            "id": 1234,
            "name": "Ms Sara Ahmadi",
            "phone": "+4915112345678",
            "email": "sara@example.com",
            "address": "Hauptstrasse 1, 10115 Berlin",
        },
        "history": [
            {
                "call_id": f"c-{n:04d}",
                "dialed_at": "2026-11-30T10:15:00+00:00",
                "agent": "Agent Smith",
                "outcome": "answered",
                "disposition": "callback",
                "talk_seconds": 62,
                "notes": "Asked to call back next week about the offer.",
            }
            for n in range(history)
        ],
    }


def _encoded(manager: BatchingRedisManager, emits: list[tuple[str, Any, str]]) -> list[bytes]:
    """The messages as `manager` publishes them."""
    sent: list[str] = []
    manager.publish_encoded = sent.extend  # type: ignore[method-assign]
    with publishes_together():
        for event, data, room in emits:
            manager.emit(event, data, room=room)
    return [message.encode() for message in sent]


def _listener() -> CoalescingRedisManager:
    manager = CoalescingRedisManager(URL, channel="bench")
    server = python_socketio.Server(client_manager=manager, json=wire_json, async_mode="threading")
    server._send_eio_packet = lambda _eio_sid, _pkt: None  # type: ignore[method-assign]
    server.logger.setLevel(logging.CRITICAL)  # the fed loop's end: "listen() exited"
    sid = manager.connect("eio-1", "/")
    for room in ("agent:1", "campaign:1"):
        manager.enter_room(sid, "/", room)
    return manager


def _heard(manager: CoalescingRedisManager, messages: list[bytes]) -> float:
    """The listening thread's CPU seconds to hear `messages`."""
    manager.fed = messages  # type: ignore[attr-defined]
    started = time.thread_time()
    manager._thread()
    return time.thread_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--history", type=int, default=20, help="earlier calls in a pop")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    RedisManager._listen = lambda self: iter(self.fed)  # type: ignore[method-assign]

    listener = _listener()
    publisher = BatchingRedisManager(URL, channel="bench", write_only=True)
    python_socketio.Server(client_manager=publisher, json=wire_json, async_mode="threading")
    pop = _pop(args.history)
    delta = single_delta(CALLS, {"call_id": "c-0001", "campaign_id": 1, "state": "connected"})
    kinds = {
        "pop, room here": (publisher, ("screen_pop", pop, "agent:1")),
        "pop, room elsewhere": (publisher, ("screen_pop", pop, "agent:2")),
        "pop, its own": (listener, ("screen_pop", pop, "agent:3")),
        "delta, room here": (publisher, (DELTA_EVENT, delta, "campaign:1")),
    }
    print(f"{args.messages} messages a kind, {args.rounds} rounds; CPU per message, us")
    for name, (sender, emit) in kinds.items():
        messages = _encoded(sender, [emit] * args.messages)
        times = [_heard(listener, messages) / args.messages * 1e6 for _ in range(args.rounds)]
        print(f"  {name:<22} {min(times):7.1f} - {max(times):7.1f}   ({len(messages[0])} bytes)")


if __name__ == "__main__":
    main()
