"""The event bus: one interface; in-process for the embedded default, Redis
Streams with a consumer group (callcenter.bus_redis) when processes are split.

Delivery is at-least-once; handlers dedupe on `event.event_id`."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import redis
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from callcenter.events import Event
from callcenter.logging_setup import ids_of

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]
ALL_EVENTS = "*"


class EventBus(Protocol):
    def publish(self, event: Event) -> None: ...

    def publish_many(self, events: Sequence[Event]) -> None:
        """`events` in order, as `publish` would one by one, in one go where
        the bus can (one round trip to Redis)."""
        ...

    def subscribe(self, event_type: str, handler: Handler) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def ping(self) -> bool: ...


class AppliesTogether(Protocol):
    """A handler that can also apply several events in one go (one
    transaction for a read of the stream instead of one per event)."""

    def __call__(self, event: Event) -> None: ...

    def apply_together(self, events: Sequence[Event]) -> bool:
        """Apply all of `events`, in order, or none of them (False): those
        then go to the handler one by one."""
        ...


class NotYet(Exception):
    """Raised by a handler when the event came before one it builds on (which
    another member of the consumer group is applying): try it again shortly."""


def passes_by_itself(exc: BaseException, *, others_apply_events: bool = True) -> bool:
    """A failure that goes away without changing the event or the code: the
    database or Redis unreachable for a while, a deadlock, SQLite busy, an
    event that overtook the one it follows (only where other consumers apply
    events: one in-order consumer never sees the one it follows come later)."""
    if isinstance(exc, NotYet):
        return others_apply_events
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return False


@dataclass(frozen=True)
class Dispatched:
    """What became of one event: the handlers that failed, and those of them
    that failed only because what they need was unreachable (try those again)."""

    failed: tuple[Handler, ...] = ()
    unavailable: tuple[Handler, ...] = ()


class Subscriptions:
    """Handlers by event type; one handler's failure never stops the others."""

    def __init__(self, *, others_apply_events: bool = True) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._others_apply_events = others_apply_events

    def add(self, event_type: str, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def __bool__(self) -> bool:
        return any(self._handlers.values())

    def handlers_of(self, event: Event) -> list[Handler]:
        return [*self._handlers.get(event.TYPE, ()), *self._handlers.get(ALL_EVENTS, ())]

    def dispatch(self, event: Event, handlers: Sequence[Handler] | None = None) -> Dispatched:
        """Run every handler for the event (or only `handlers`, on a retry)."""
        if handlers is None:
            handlers = self.handlers_of(event)
        failed: list[Handler] = []
        unavailable: list[Handler] = []
        for handler in handlers:
            try:
                handler(event)
            except Exception as exc:
                failed.append(handler)
                if passes_by_itself(exc, others_apply_events=self._others_apply_events):
                    unavailable.append(handler)
                    log.warning(
                        "handler %s could not reach what it needs for %s %s: %s",
                        handler,
                        event.TYPE,
                        event.event_id,
                        exc.__class__.__name__,
                        extra=ids_of(event),
                    )
                    continue
                log.exception(
                    "handler %s failed on %s %s",
                    handler,
                    event.TYPE,
                    event.event_id,
                    extra=ids_of(event),
                )
        return Dispatched(tuple(failed), tuple(unavailable))

    def dispatch_until_reachable(
        self,
        event: Event,
        *,
        stopping: threading.Event,
        retry_for_s: float | None = None,
        handlers: Sequence[Handler] | None = None,
    ) -> bool:
        """Run the handlers (or only `handlers`); those that could not reach
        their database get the event again (and only they), with backoff, so
        the events behind it wait their turn instead of overtaking it. True
        when every handler ran; False on a handler's own failure, at
        `stopping`, or after `retry_for_s` (None: until stopping)."""
        outcome = self.dispatch(event, handlers)
        failed = set(outcome.failed) - set(outcome.unavailable)
        give_up_at = None if retry_for_s is None else time.monotonic() + retry_for_s
        backoff = 0.2
        while outcome.unavailable:
            if stopping.is_set() or (give_up_at is not None and time.monotonic() >= give_up_at):
                return False
            stopping.wait(backoff)
            backoff = min(backoff * 2, 5.0)
            outcome = self.dispatch(event, outcome.unavailable)
            failed |= set(outcome.failed) - set(outcome.unavailable)
        return not failed

    def dispatch_all_until_reachable(
        self,
        events: Sequence[Event],
        *,
        stopping: threading.Event,
        retry_for_s: float | None = None,
    ) -> list[bool]:
        """`dispatch_until_reachable` for each of `events` in turn (what it
        returned, for each), except that a handler that applies events
        together gets all of its events in one go first; only when that fails
        do they go to it one by one, in order, as if it had not been tried."""
        handlers = [self.handlers_of(event) for event in events]
        applied: set[tuple[int, Handler]] = set()
        for together in _applying_together(handlers):
            positions = [at for at, theirs in enumerate(handlers) if together in theirs]
            if len(positions) > 1 and together.apply_together([events[at] for at in positions]):
                applied.update((at, together) for at in positions)
        delivered = []
        for at, event in enumerate(events):
            left = [handler for handler in handlers[at] if (at, handler) not in applied]
            delivered.append(
                not left
                or self.dispatch_until_reachable(
                    event, stopping=stopping, retry_for_s=retry_for_s, handlers=left
                )
            )
        return delivered


def _applying_together(handlers: Sequence[Sequence[Handler]]) -> list[AppliesTogether]:
    found: list[AppliesTogether] = []
    for theirs in handlers:
        for handler in theirs:
            if hasattr(handler, "apply_together") and handler not in found:
                found.append(cast(AppliesTogether, handler))
    return found


class InProcessEventBus:
    """A queue drained by one worker thread, so publishers never run handlers
    inline and handlers see events in publish order."""

    RETRY_FOR_S = 120.0  # as RedisStreamsEventBus's retry_for_s
    TAKE_AT_ONCE = 10  # as a Redis Streams member's read (bus_redis.READ_BATCH)

    def __init__(self) -> None:
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._subscriptions = Subscriptions(others_apply_events=False)
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._published_at: deque[float] = deque()  # of unhandled events

    def publish(self, event: Event) -> None:
        with self._idle:
            self._published_at.append(time.monotonic())
        self._queue.put(event)

    def publish_many(self, events: Sequence[Event]) -> None:
        for event in events:
            self.publish(event)

    def subscribe(self, event_type: str, handler: Handler) -> None:
        self._subscriptions.add(event_type, handler)

    def start(self) -> None:
        if self._worker is None:
            self._stopping.clear()
            self._worker = threading.Thread(target=self._run, name="event-bus", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._stopping.set()
            self._queue.put(None)
            self._worker.join(timeout=10)
            self._worker = None

    def ping(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def wait_until_idle(self, timeout: float = 10.0) -> bool:
        """Block until every published event has been handled (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._published_at, timeout=timeout)

    def backlog(self) -> tuple[int, float]:
        """Events published and not yet handled, and the seconds the oldest of them has waited."""
        with self._idle:
            if not self._published_at:
                return 0, 0.0
            return len(self._published_at), time.monotonic() - self._published_at[0]

    def dispatch(self, event: Event) -> None:
        self._subscriptions.dispatch(event)

    def _run(self) -> None:
        # A handler that cannot reach the database (SQLite busy past its
        # timeout, PostgreSQL restarting) gets the event again, as on Redis:
        # dropped, a call.ended would leave its agent on the call for good.
        # Past RETRY_FOR_S (a database that stays away, or an error that only
        # looks passing) the event is dropped, its failures logged: there is
        # no dead-letter stream here, and the events behind it must go on.
        # Events that wait together are applied together (up to TAKE_AT_ONCE).
        stopped = False
        while not stopped:
            taken: list[Event] = []
            waiting: Event | None = self._queue.get()
            while waiting is not None:
                taken.append(waiting)
                if len(taken) == self.TAKE_AT_ONCE:
                    break
                try:
                    waiting = self._queue.get_nowait()
                except queue.Empty:
                    break
            stopped = waiting is None
            try:
                self._subscriptions.dispatch_all_until_reachable(
                    taken, stopping=self._stopping, retry_for_s=self.RETRY_FOR_S
                )
            finally:
                with self._idle:
                    for _ in taken:
                        self._published_at.popleft()
                    self._idle.notify_all()


def build_event_bus(
    redis_url: str, *, consumer_group: str = "callcenter", linger_ms: int = 0
) -> EventBus:
    """In-process without Redis; Redis Streams when a Redis URL is configured."""
    if not redis_url:
        return InProcessEventBus()
    from callcenter.bus_redis import RedisStreamsEventBus

    return RedisStreamsEventBus(redis_url, group=consumer_group, linger_ms=linger_ms)
