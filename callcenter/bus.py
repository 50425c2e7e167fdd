"""The event bus: one interface; in-process for the embedded default, Redis
Streams with a consumer group (callcenter.bus_redis) when processes are split.

Delivery is at-least-once; handlers dedupe on `event.event_id`."""

from __future__ import annotations

import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

from callcenter.events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]
ALL_EVENTS = "*"


class EventBus(Protocol):
    def publish(self, event: Event) -> None: ...

    def subscribe(self, event_type: str, handler: Handler) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def ping(self) -> bool: ...


class Subscriptions:
    """Handlers by event type; one handler's failure never stops the others."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def add(self, event_type: str, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def __bool__(self) -> bool:
        return any(self._handlers.values())

    def dispatch(self, event: Event) -> bool:
        """Run every handler for the event; True if all of them succeeded."""
        succeeded = True
        for handler in [*self._handlers.get(event.TYPE, ()), *self._handlers.get(ALL_EVENTS, ())]:
            try:
                handler(event)
            except Exception:
                succeeded = False
                log.exception("handler %s failed on %s %s", handler, event.TYPE, event.event_id)
        return succeeded


class InProcessEventBus:
    """A queue drained by one worker thread, so publishers never run handlers
    inline and handlers see events in publish order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._subscriptions = Subscriptions()
        self._worker: threading.Thread | None = None
        self._idle = threading.Condition()
        self._pending = 0

    def publish(self, event: Event) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(event)

    def subscribe(self, event_type: str, handler: Handler) -> None:
        self._subscriptions.add(event_type, handler)

    def start(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="event-bus", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=10)
            self._worker = None

    def ping(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def wait_until_idle(self, timeout: float = 10.0) -> bool:
        """Block until every published event has been handled (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def dispatch(self, event: Event) -> None:
        self._subscriptions.dispatch(event)

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                self.dispatch(event)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()


def build_event_bus(redis_url: str, *, consumer_group: str = "callcenter") -> EventBus:
    """In-process without Redis; Redis Streams when a Redis URL is configured."""
    if not redis_url:
        return InProcessEventBus()
    from callcenter.bus_redis import RedisStreamsEventBus

    return RedisStreamsEventBus(redis_url, group=consumer_group)
