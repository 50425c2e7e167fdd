"""Pushing to browsers: queued on the database session and sent only after
it commits (`callcenter.after_commit`), so a browser never sees a change
that was rolled back."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.orm import Session

from callcenter import after_commit
from callcenter.after_commit import Outlet
from callcenter.realtime import wire_json
from callcenter.realtime.coalesce import DELTA_EVENT, single_delta
from callcenter.realtime.managers import (
    BatchingRedisManager,
    CoalescingManager,
    CoalescingRedisManager,
    publishes_together,
)

BROADCASTER = "broadcaster"
CHANNEL_PREFIX = "callcenter-socketio-"


class Broadcaster(Protocol):
    def emit(self, event: str, data: Any, *, to: str, namespace: str = "/") -> None: ...


def message_queue_options(redis_url: str) -> dict[str, str]:
    """Socket.IO's Redis message queue on a channel of the Redis database's
    own. Pub/sub channels are shared by every database of a Redis server and
    rooms are named by ids (`agent:1`), so two deployments (or test runs) on
    one server would otherwise push to each other's browsers. Every process
    that emits (web, consume, dialer) uses these options."""
    import redis.connection

    database = redis.connection.parse_url(redis_url).get("db", 0)
    return {"message_queue": redis_url, "channel": f"{CHANNEL_PREFIX}{database}"}


def async_mode() -> str:
    """gevent under gunicorn's gevent worker (it patched the standard library
    before the app was imported): a held socket is a greenlet, not a thread.
    threading everywhere else (`callcenter run`, tests, a gthread worker)."""
    monkey = sys.modules.get("gevent.monkey")
    return "gevent" if monkey is not None and monkey.is_module_patched("socket") else "threading"


def client_manager(redis_url: str) -> Any:
    """The web server's Socket.IO client manager: the Redis message queue
    (`message_queue_options`), or in-process rooms without Redis; either
    coalesces `floor_delta` per room before its sockets get it."""
    if not redis_url:
        return CoalescingManager()
    options = message_queue_options(redis_url)
    return CoalescingRedisManager(options["message_queue"], channel=options["channel"])


def emit_after_commit(
    session: Session, event_name: str, data: Any, *, room: str, namespace: str = "/"
) -> None:
    after_commit.defer(session, Outlet.BROWSER_EMITS, (event_name, data, room, namespace))


def push_after_commit(session: Session, room: str, kind: str, data: Any) -> None:
    """A change (a row of `kind`) the room sees in its next coalesced
    `floor_delta` once the session commits (see `realtime.managers`)."""
    after_commit.defer(session, Outlet.BROWSER_DELTAS, (room, kind, data))


def send_emits(session: Session, emits: Sequence[tuple[str, Any, str, str]]) -> None:
    broadcaster: Broadcaster | None = session.info.get(BROADCASTER)
    if broadcaster is None:
        return
    for event_name, data, room, namespace in emits:
        broadcaster.emit(event_name, data, to=room, namespace=namespace)


def send_deltas(session: Session, deltas: Sequence[tuple[str, str, Any]]) -> None:
    broadcaster: Broadcaster | None = session.info.get(BROADCASTER)
    if broadcaster is None:
        return
    for room, kind, data in deltas:
        broadcaster.emit(DELTA_EVENT, single_delta(kind, data), to=room)


after_commit.deliver_with(Outlet.BROWSER_EMITS, send_emits)
after_commit.deliver_with(Outlet.BROWSER_DELTAS, send_deltas)
after_commit.deliver_inside(publishes_together)


def redis_emitter(redis_url: str) -> Any:
    """A Socket.IO server that only publishes to the web servers' message
    queue (`message_queue_options`), for a process with no sockets of its
    own (the dialer); its publishes after a commit go together."""
    from flask_socketio import SocketIO

    options = message_queue_options(redis_url)
    manager = BatchingRedisManager(
        options["message_queue"], channel=options["channel"], write_only=True
    )
    emitter = SocketIO()
    emitter.init_app(None, client_manager=manager, json=wire_json)
    return emitter
