"""Socket.IO client managers that coalesce `floor_delta` where the sockets
are: whichever process emitted a change (web, consume, dialer), each web
process sends its supervisors' rooms at most one delta per window.

Every process that publishes to the Redis message queue (web, consume,
dialer) does it through `BatchingRedisManager`: inside `publishes_together`
(an outlet's delivery after a commit, `callcenter.after_commit`) its
publishes wait and go to Redis in one round trip at the end, in order."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from socketio import Manager, RedisManager

from callcenter.realtime.coalesce import DELTA_EVENT, Coalescer, merge_delta
from callcenter.realtime.socket_users import FORGET_METHOD, SocketUsers


def _coalescer(manager: Any) -> Coalescer:
    def deliver(event: str, data: Any, room: str) -> None:
        Manager.emit(manager, event, data, "/", room=room)

    return Coalescer(
        deliver,
        start_background_task=manager.server.start_background_task,
        sleep=manager.server.sleep,
    )


def _coalesced(event: str, namespace: str | None, room: Any, skip_sid: Any, callback: Any) -> bool:
    return (
        event == DELTA_EVENT
        and (namespace or "/") == "/"
        and isinstance(room, str)
        and skip_sid is None
        and callback is None
    )


def _elsewhere(manager: Manager, namespace: str | None, room: Any) -> bool:
    """A room none of this process's sockets is in: every web process hears
    every emit, and Socket.IO would encode its packet before finding nobody
    here to send it to (the screen pop's whole customer history, once per
    web process)."""
    return isinstance(room, str) and not manager.rooms.get(namespace or "/", {}).get(room)


class HoldsSocketUsers:
    """A web process's manager: the users of the sockets it holds
    (`socket_users`), forgotten here and, through the queue when there is
    one, in the other web processes."""

    @functools.cached_property
    def held_users(self) -> SocketUsers:
        return SocketUsers()

    def forget_users(self, user_ids: set[int]) -> None:
        self.held_users.forget(user_ids)
        publish = getattr(super(), "forget_users", None)
        if publish is not None:
            publish(user_ids)


class CoalescingManager(HoldsSocketUsers, Manager):
    """In-process rooms (no Redis)."""

    deltas: Coalescer | None = None

    def initialize(self) -> None:
        super().initialize()
        self.deltas = _coalescer(self)

    def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> Any:
        room = to or room
        if self.deltas is not None and _coalesced(event, namespace, room, skip_sid, callback):
            merge_delta(self.deltas, room, data)
            return None
        return super().emit(
            event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs
        )


# The head of an emit as `BatchingRedisManager` encodes it (compact JSON): who
# sent it, the event, namespace and room, ahead of the data. A string with an
# escape in it, a room that is not a string, or any other spacing or order
# does not match: that message is decoded as before.
_EMIT_HEAD = re.compile(
    rb'\{"method":"emit","host_id":"([^"\\]*)","event":"([^"\\]*)",'
    rb'"namespace":"([^"\\]*)","room":"([^"\\]*)",'
)


def _head_first(message: Any) -> Any:
    """An emit's message with what a listener reads before deciding to
    decode it at the front (`CoalescingRedisManager._listen`); the same
    message, key order aside."""
    if not isinstance(message, dict) or message.get("method") != "emit":
        return message
    head = ("method", "host_id", "event", "namespace", "room")
    return {**{key: message.get(key) for key in head}, **message}


_FORGET_HEAD = b'{"method":"%s",' % FORGET_METHOD.encode()

_together = threading.local()  # .waiting: [(manager, encoded message)], None outside


@contextmanager
def publishes_together() -> Iterator[None]:
    """The publishes of this thread (or greenlet) made inside go to Redis at
    the end, each manager's in one round trip, in the order they were made;
    also when what is inside fails (they were made before it failed)."""
    if getattr(_together, "waiting", None) is not None:
        yield  # inside another: its end sends them
        return
    _together.waiting = []
    try:
        yield
    finally:
        waiting: list[tuple[BatchingRedisManager, str]] = _together.waiting
        _together.waiting = None
        managers = list(dict.fromkeys(manager for manager, _message in waiting))
        for manager in managers:
            manager.publish_encoded([message for mine, message in waiting if mine is manager])


class BatchingRedisManager(RedisManager):
    """python-socketio's Redis manager, its publishes held inside
    `publishes_together`. A message is encoded as it is published (what it
    was then is what is sent) and sent as `RedisManager._publish` sends it:
    the same message to the same channel, with one retry on a new connection;
    several go in one MULTI (all of them or none, as one PUBLISH)."""

    connected: bool  # RedisManager's: False after a failure, to connect anew

    def _publish(self, data: Any) -> Any:
        data = _head_first(data)
        waiting = getattr(_together, "waiting", None)
        if waiting is None:
            return super()._publish(data)
        waiting.append((self, self.json.dumps(data)))
        return None

    def forget_users(self, user_ids: set[int]) -> None:
        """Every web process forgets these users' held rows (`socket_users`)."""
        self._publish({"method": FORGET_METHOD, "user_ids": sorted(user_ids)})

    def publish_encoded(self, messages: list[str]) -> None:
        for retries_left in (1, 0):
            try:
                if not self.connected:
                    self._redis_connect()
                if len(messages) == 1:
                    self.redis.publish(self.channel, messages[0])
                    return
                pipe = self.redis.pipeline(transaction=True)
                for message in messages:
                    pipe.publish(self.channel, message)
                pipe.execute()
                return
            except Exception as exc:  # as RedisManager._publish: logged, never raised
                if retries_left:
                    self._get_logger().error(
                        "Cannot publish to redis... retrying", extra={"redis_exception": str(exc)}
                    )
                    self.connected = False
                else:
                    self._get_logger().error(
                        "Cannot publish to redis... giving up", extra={"redis_exception": str(exc)}
                    )


class CoalescingRedisManager(HoldsSocketUsers, BatchingRedisManager):
    """Rooms across processes through Redis: a delta is published as emitted
    and coalesced by each receiving process before its sockets get it."""

    deltas: Coalescer | None = None

    def initialize(self) -> None:
        super().initialize()
        self.deltas = _coalescer(self)

    def _listen(self) -> Iterator[Any]:
        """The queue's messages but the emits this process has no use for,
        found by their head without decoding the rest (a screen pop carries
        the customer's history): its own (the old way decoded them to find
        `host_id` its own and dropped them), and those for a room none of its
        sockets is in (dropped by `_handle_emit` once decoded). The rooms are
        looked at as `_handle_emit` would (no greenlet runs in between).
        A message to forget users is acted on here (`socket_users`)."""
        for message in super()._listen():
            if isinstance(message, bytes) and message.startswith(_FORGET_HEAD):
                self.held_users.forget(set(self.json.loads(message)["user_ids"]))
            elif not self._unheard(message):
                yield message

    def _unheard(self, message: Any) -> bool:
        head = _EMIT_HEAD.match(message) if isinstance(message, bytes) else None
        if head is None:
            return False  # another encoding (an older process): decoded as before
        host_id, event, namespace, room = (part.decode() for part in head.groups())
        if host_id == self.host_id:
            return True
        # A delta is coalesced here before its room's sockets are looked at.
        return event != DELTA_EVENT and _elsewhere(self, namespace, room)

    def _handle_emit(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        if (
            self.deltas is not None
            and not message.get("binary")
            and isinstance(data, list)
            and len(data) == 1
            and _coalesced(
                message.get("event", ""),
                message.get("namespace"),
                message.get("room"),
                message.get("skip_sid"),
                message.get("callback"),
            )
        ):
            merge_delta(self.deltas, message["room"], data[0])
            return
        if _elsewhere(self, message.get("namespace"), message.get("room")):
            return
        super()._handle_emit(message)
