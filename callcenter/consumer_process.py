"""`callcenter consume`: the bus consumers as a process of their own.

It builds the same application the web processes build (so the same services
subscribe: call events, follow-up mail, live-floor counters, metrics) but
serves no HTTP; it joins the "callcenter" consumer group on the Redis stream,
where web processes that consume too share the work and a crashed member's
pending events are claimed by the others. It also prunes the bus events
applied long ago (callcenter.services.event_pruning), runs the lead imports
queued by the web (callcenter.lead_import_worker) and sends the webhooks
(callcenter.webhook_worker). Browsers are reached through the
Socket.IO Redis message queue. Liveness: a heartbeat file touched while Redis
answers, and optionally /healthz, /readyz and /metrics on a port of its own
(callcenter.health_server).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import FrameType

from callcenter.db import Database, utcnow
from callcenter.health import MainLoopHealth, bus_check, database_check
from callcenter.health_server import HealthServer
from callcenter.process_memory import freeze_what_startup_built
from callcenter.services import event_pruning, outbox_pruning
from callcenter.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# How often the consumer forgets the bus events applied long ago (event_pruning),
# and the webhook deliveries and SMS past their retention (outbox_pruning).
PRUNE_EVERY_S = 300.0


class Heartbeat:
    """Writes the time to `path` (atomically) on every beat while healthy, so a
    supervisor can check the file's age; stays silent when Redis is gone."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def beat(self, healthy: bool) -> None:
        if not healthy:
            log.warning("consumer: event bus unreachable; heartbeat withheld")
            return
        log.debug("consumer: alive")
        if self.path is not None:
            scratch = self.path.with_name(self.path.name + ".tmp")
            scratch.write_text(f"{time.time():.0f}\n")
            os.replace(scratch, self.path)


def run_consumer(
    settings: Settings,
    database: Database,
    *,
    stop: threading.Event,
    health_file: Path | None = None,
    heartbeat_seconds: float = 10.0,
    health_port: int | None = None,
    health_host: str = "127.0.0.1",
) -> None:
    """Consume until `stop` is set."""
    if not settings.redis_url:
        raise SettingsError(
            "callcenter consume needs CC_REDIS_URL (the embedded default consumes in-process)"
        )
    from callcenter.app import create_app

    app = create_app(settings, database=database)
    bus = app.extensions["cc_bus"]
    health = MainLoopHealth(
        [database_check(database), bus_check(bus, redis=True)],
        stale_after_s=3 * heartbeat_seconds + 10,
    )
    health_server = None
    if health_port is not None:
        health_server = HealthServer(health, health_host, health_port).start()
    heartbeat = Heartbeat(health_file)
    import_worker = app.extensions["cc_import_worker"].start()
    webhook_worker = app.extensions["cc_webhook_worker"].start()
    sms_worker = app.extensions["cc_sms_worker"].start()
    app.extensions["cc_follow_up_sender"].wake()  # reminders come due with no event to wake it
    freeze_what_startup_built()
    bus.start()
    log.info("consumer: reading the event stream as group member %s", bus.consumer)
    pruned_at: float | None = None  # the first round prunes at once
    try:
        while True:
            heartbeat.beat(bus.ping())
            health.beat()
            if pruned_at is None or time.monotonic() - pruned_at >= PRUNE_EVERY_S:
                pruned_at = time.monotonic()
                _prune_applied_events(database)
                _prune_outboxes(database, settings)
            if stop.wait(heartbeat_seconds):
                break
    finally:
        if health_server is not None:
            health_server.stop()
        import_worker.stop()
        webhook_worker.stop()
        sms_worker.stop()
        bus.stop()
        if health_file is not None:
            health_file.unlink(missing_ok=True)
        log.info("consumer: stopped")


def _prune_applied_events(database: Database) -> None:
    try:
        event_pruning.prune(database, now=utcnow())
    except Exception:  # the database may be away; the next round tries again
        log.warning("consumer: pruning processed_events failed", exc_info=True)


def _prune_outboxes(database: Database, settings: Settings) -> None:
    try:
        outbox_pruning.prune(
            database,
            now=utcnow(),
            webhook_retention=timedelta(days=settings.webhooks.retention_days),
            sms_retention=timedelta(days=settings.sms.retention_days),
        )
    except Exception:  # the database may be away; the next round tries again
        log.warning("consumer: pruning the webhook and SMS logs failed", exc_info=True)


def stop_on_signals(stop: threading.Event) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)
