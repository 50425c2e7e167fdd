"""What the Redis Streams bus fault tests share: a deduping handler that
records what it applied, and a bus on a stream (the `stream` fixture)."""

from __future__ import annotations

import threading

from callcenter.bus_redis import RedisStreamsEventBus
from callcenter.events import Event


class Recorder:
    """A handler that dedupes on the event id, as every real handler does."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.applied: list[str] = []
        self.deliveries = 0
        self._seen: set[str] = set()

    def __call__(self, event: Event) -> None:
        with self.lock:
            self.deliveries += 1
            if event.event_id not in self._seen:
                self._seen.add(event.event_id)
                self.applied.append(event.call_id)  # type: ignore[attr-defined]

    def count(self) -> int:
        with self.lock:
            return len(self.applied)


def stream_bus(url: str, stream: str, *, retry_for_s: float = 120.0) -> RedisStreamsEventBus:
    return RedisStreamsEventBus(
        url, group="g", stream=stream, block_ms=100, retry_for_s=retry_for_s
    )
