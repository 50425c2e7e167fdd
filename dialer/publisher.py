"""Publishing from the dialer's loop without waiting for Redis: the Redis
Streams bus sends each event with a round trip (and, while Redis is away,
waits out the client's timeout before the event goes to its outbox), which
the loop that carries every SIP timer and RTP packet must not do."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections import deque
from collections.abc import Sequence

from callcenter.bus import EventBus, Handler
from callcenter.events import Event

log = logging.getLogger(__name__)


class OffLoopPublisher:
    """An :class:`EventBus` whose `publish` hands the event to one thread of
    its own, so events go out in the order they were published; events that
    wait for that thread together go in one `publish_many` (one round trip
    to Redis). The rest is the wrapped bus's. `drain()` waits until every
    event handed over is sent."""

    def __init__(self, bus: EventBus) -> None:
        self.inner = bus
        self._sender = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="dialer-publish"
        )
        self._waiting: deque[Event] = deque()
        self._last: concurrent.futures.Future[None] | None = None

    def publish(self, event: Event) -> None:
        self._waiting.append(event)
        # The task sends whatever waits by then: this event, unless a task
        # before it took it along already (this one then finds nothing).
        self._last = self._sender.submit(self._send_waiting)

    def publish_many(self, events: Sequence[Event]) -> None:
        self._waiting.extend(events)
        self._last = self._sender.submit(self._send_waiting)

    async def drain(self) -> None:
        last = self._last
        if last is not None:
            await asyncio.wrap_future(last)

    def _send_waiting(self) -> None:
        events = []
        while self._waiting:
            events.append(self._waiting.popleft())
        if not events:
            return
        try:
            self.inner.publish_many(events)
        except Exception:
            # An event the bus cannot encode: the others go one by one.
            log.exception("%d events not published together; one by one", len(events))
            for event in events:
                self._send(event)

    def _send(self, event: Event) -> None:
        try:
            self.inner.publish(event)
        except Exception:
            # The loop would have logged it as a failed tick or task; lost either way.
            log.exception("event %s not published", event.TYPE)

    def subscribe(self, event_type: str, handler: Handler) -> None:
        self.inner.subscribe(event_type, handler)

    def start(self) -> None:
        self.inner.start()

    def stop(self) -> None:
        self._sender.shutdown(wait=True)
        self.inner.stop()

    def ping(self) -> bool:
        return self.inner.ping()
