"""Pushing to browsers: queued on the database session and sent only after
it commits, so a browser never sees a change that was rolled back."""

from __future__ import annotations

import sys
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from callcenter.realtime.coalesce import DELTA_EVENT, single_delta

PENDING = "pending_emits"
PENDING_DELTAS = "pending_deltas"
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
    from callcenter.realtime.managers import CoalescingManager, CoalescingRedisManager

    if not redis_url:
        return CoalescingManager()
    options = message_queue_options(redis_url)
    return CoalescingRedisManager(options["message_queue"], channel=options["channel"])


def emit_after_commit(
    session: Session, event_name: str, data: Any, *, room: str, namespace: str = "/"
) -> None:
    session.info.setdefault(PENDING, []).append((event_name, data, room, namespace))


def push_after_commit(session: Session, room: str, kind: str, data: Any) -> None:
    """A change (a row of `kind`) the room sees in its next coalesced
    `floor_delta` once the session commits (see `realtime.managers`)."""
    session.info.setdefault(PENDING_DELTAS, []).append((room, kind, data))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released; the real commit is still to come
    pending = session.info.pop(PENDING, [])
    deltas = session.info.pop(PENDING_DELTAS, [])
    broadcaster: Broadcaster | None = session.info.get(BROADCASTER)
    if broadcaster is None:
        return
    for event_name, data, room, namespace in pending:
        broadcaster.emit(event_name, data, to=room, namespace=namespace)
    for room, kind, data in deltas:
        broadcaster.emit(DELTA_EVENT, single_delta(kind, data), to=room)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only a SAVEPOINT: what was queued before it still stands
    session.info.pop(PENDING, None)
    session.info.pop(PENDING_DELTAS, None)
