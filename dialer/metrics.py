"""The dialer's Prometheus gauges (hopper depth, pacer dial level), set in the
dialer from what it publishes: with several consumer processes sharing the
stream, no single one of them sees every event, but the dialer made them all."""

from __future__ import annotations

from collections.abc import Sequence

from callcenter.bus import EventBus, Handler
from callcenter.events import Event
from callcenter.prometheus import observe_dialer_event


class MeteredBus:
    """The worker's bus: publishes through `bus`, and notes each event in
    this process's gauges."""

    def __init__(self, bus: EventBus) -> None:
        self.inner = bus

    def publish(self, event: Event) -> None:
        self.inner.publish(event)
        observe_dialer_event(event)

    def publish_many(self, events: Sequence[Event]) -> None:
        self.inner.publish_many(events)
        for event in events:
            observe_dialer_event(event)

    def subscribe(self, event_type: str, handler: Handler) -> None:
        self.inner.subscribe(event_type, handler)

    def start(self) -> None:
        self.inner.start()

    def stop(self) -> None:
        self.inner.stop()

    def ping(self) -> bool:
        return self.inner.ping()
