"""Socket.IO client managers that coalesce `floor_delta` where the sockets
are: whichever process emitted a change (web, consume, dialer), each web
process sends its supervisors' rooms at most one delta per window."""

from __future__ import annotations

from typing import Any

from socketio import Manager, RedisManager

from callcenter.realtime.coalesce import DELTA_EVENT, Coalescer, merge_delta


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


class CoalescingManager(Manager):
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


class CoalescingRedisManager(RedisManager):
    """Rooms across processes through Redis: a delta is published as emitted
    and coalesced by each receiving process before its sockets get it."""

    deltas: Coalescer | None = None

    def initialize(self) -> None:
        super().initialize()
        self.deltas = _coalescer(self)

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
