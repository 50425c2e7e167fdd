"""Prometheus metrics of one process, served at /metrics (callcenter.ops_views).

Each production process (every `callcenter web` / gunicorn process, the
dialer, the consumer) is its own scrape target with its own registry: run
gunicorn with one worker per process (`-w 1 --threads N`) and scrape every
port, and sum in PromQL. Forked multi-worker gunicorn would need
PROMETHEUS_MULTIPROC_DIR and a MultiProcessCollector, which these metrics do
not set up (docs/deployment.md).

Who sets what: `observe_events` (wired in create_app) counts `call.ended` by
outcome and the bus lag; `observe_backlog` points the consumer-group backlog
(read from Redis or the in-process queue at scrape time) at this process's
bus; the dialer sets the hopper and pacer gauges from the events it publishes
(`observe_dialer_event`), and the Socket.IO connection handlers count clients.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from callcenter.bus import EventBus
from callcenter.bus_backlog import BacklogSource
from callcenter.events import CallEnded, Event, HopperDepth, PacerLevelChanged

CALLS_ENDED = Counter(
    "callcenter_calls_ended",
    "Calls that ended, by outcome (each call.ended event counted once per process).",
    ["outcome"],
)
EVENT_BUS_LAG = Gauge(
    "callcenter_event_bus_lag_seconds",
    "Seconds between the last handled call.ended event's occurrence and its handling here.",
)
HOPPER_DEPTH = Gauge(
    "callcenter_hopper_depth", "Leads waiting in the hopper, by campaign.", ["campaign_id"]
)
SOCKET_CLIENTS = Gauge("callcenter_socket_clients", "Socket.IO clients connected to this process.")
GC_FROZEN_OBJECTS = Gauge(
    "callcenter_gc_frozen_objects",
    "Objects this process built at start and froze out of the garbage collector's reach "
    "(callcenter.process_memory; 0: not frozen).",
)
GC_FROZEN_OBJECTS.set_function(gc.get_freeze_count)
PACER_DIAL_LEVEL = Gauge(
    "callcenter_pacer_dial_level",
    "Lines the pacer dials per ready agent, by campaign.",
    ["campaign_id"],
)


class EventBacklogCollector(Collector):
    """Consumer-group backlog, asked of the bus's backing store at scrape time
    (a gauge set by a timer would be stale by up to its period)."""

    def __init__(self) -> None:
        self.source: BacklogSource | None = None

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        backlog, oldest = self._families()
        for group in self.source.backlog() if self.source is not None else ():
            if group.undelivered is not None:
                backlog.add_metric([group.group, "undelivered"], group.undelivered)
            backlog.add_metric([group.group, "pending"], group.pending)
            oldest.add_metric([group.group], group.oldest_age_s)
        yield backlog
        yield oldest

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "callcenter_event_bus_backlog",
                "Events a consumer group has not finished: undelivered (read by no member yet) "
                "and pending (read, not acknowledged).",
                labels=["group", "state"],
            ),
            GaugeMetricFamily(
                "callcenter_event_bus_oldest_unacked_seconds",
                "How long the oldest event a consumer group has not acknowledged has waited "
                "(0 when the group has caught up).",
                labels=["group"],
            ),
        )


EVENT_BACKLOG = EventBacklogCollector()
REGISTRY.register(EVENT_BACKLOG)

_SEEN_LIMIT = 10_000


class _RecentIds:
    """The last few thousand event ids: the bus delivers at least once, and a
    redelivered event must not be counted twice."""

    def __init__(self, limit: int = _SEEN_LIMIT) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            if len(self._ids) > self._limit:
                self._ids.popitem(last=False)
            return True


def observe_events(bus: EventBus) -> None:
    """Count ended calls by outcome and measure how far behind the bus runs."""
    seen = _RecentIds()

    def on_call_ended(event: Event) -> None:
        if not isinstance(event, CallEnded) or not seen.first_time(event.event_id):
            return
        CALLS_ENDED.labels(outcome=event.outcome).inc()
        occurred = event.occurred_at
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
        lag = (datetime.now(UTC) - occurred).total_seconds()
        EVENT_BUS_LAG.set(max(lag, 0.0))

    bus.subscribe(CallEnded.TYPE, on_call_ended)


def observe_backlog(source: BacklogSource | None) -> None:
    """Report the backlog of this process's bus (the last one given wins)."""
    EVENT_BACKLOG.source = source


def observe_dialer_event(event: Event) -> None:
    """The dialer's gauges, from the events it publishes: set where the
    numbers are made, not in whichever consumer a shared group hands them to."""
    if isinstance(event, HopperDepth):
        set_hopper_depth(event.campaign_id, event.depth)
    elif isinstance(event, PacerLevelChanged):
        set_dial_level(event.campaign_id, event.dial_level)


def set_hopper_depth(campaign_id: int, depth: int) -> None:
    HOPPER_DEPTH.labels(campaign_id=str(campaign_id)).set(depth)


def set_dial_level(campaign_id: int, level: float) -> None:
    PACER_DIAL_LEVEL.labels(campaign_id=str(campaign_id)).set(level)


def socket_connected() -> None:
    SOCKET_CLIENTS.inc()


def socket_disconnected() -> None:
    SOCKET_CLIENTS.dec()
