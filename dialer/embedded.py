"""Wiring the worker: from settings to a running dialer, in its own thread
(inside `callcenter run`) or as the main loop of `callcenter dialer`.

Embedded (no Redis): in-process hopper and ready-agent pool, the app's
in-process bus, the simulated carrier unless settings name a SIP trunk; the
simulated carrier brings the built-in browser-phone gateway (``[webphone]``).
With `redis_url` set, the hopper and the ready-agent pool live in Redis so
several dialer processes share them."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from callcenter.bus import EventBus, InProcessEventBus
from callcenter.db import Database
from callcenter.recording_store import store_from_settings
from callcenter.settings import Settings
from dialer.agent_pool import AgentPool, InProcessAgentPool, RedisAgentPool
from dialer.carrier import Carrier
from dialer.consent_prompts import ConsentPromptCache
from dialer.db_port import DatabaseServices, new_dialer_identity
from dialer.hopper import Hopper, MemoryHopper, RedisHopper
from dialer.leads import HopperLeadSource
from dialer.metrics import MeteredBus
from dialer.publisher import OffLoopPublisher
from dialer.recordings import CallRecorder
from dialer.simulated_carrier import Distribution, SimulatedCarrier, SimulationProfile
from dialer.worker import DialerWorker, WorkerConfig

if TYPE_CHECKING:
    from dialer.webphone import BrowserPhoneGateway

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stores:
    hopper: Hopper
    pool: AgentPool


def stores_for(settings: Settings) -> Stores:
    if not settings.redis_url:
        return Stores(MemoryHopper(), InProcessAgentPool())
    import redis

    client = redis.Redis.from_url(settings.redis_url)
    return Stores(RedisHopper(client), RedisAgentPool(client))


def carrier_for(settings: Settings, *, time_scale: float = 1.0) -> Carrier:
    if settings.dialer.carrier == "sip":
        from dialer.sip.trunk import SipTrunk
        from dialer.trunk_config import trunk_config_from

        return SipTrunk(trunk_config_from(settings))
    return SimulatedCarrier(
        simulation_profile(settings, time_scale=time_scale),
        browser_phones=browser_phone_gateway(settings),
        language=settings.locale.default,
    )


def browser_phone_gateway(settings: Settings) -> BrowserPhoneGateway | None:
    """The built-in gateway, unless the browsers use a proxy of their own (ws_url)."""
    if not settings.webphone.enabled or settings.webphone.ws_url:
        return None
    from dialer.webphone import BrowserPhoneGateway

    return BrowserPhoneGateway.from_settings(settings)


def extension_domain(settings: Settings) -> str | None:
    """Where an agent's extension is called: the PBX behind the SIP trunk."""
    if settings.dialer.carrier != "sip" or not settings.dialer.trunk_uri:
        return None
    from dialer.sip.message import uri_host_port

    host, port = uri_host_port(settings.dialer.trunk_uri)
    return f"{host}:{port}"


def simulation_profile(settings: Settings, *, time_scale: float = 1.0) -> SimulationProfile:
    """The profile's odds and median ring and talk times from settings; each
    time's bounds widen to keep its median inside them."""
    odds = settings.dialer.simulation
    profile = SimulationProfile()
    return SimulationProfile(
        answer=odds.answer,
        machine=odds.machine,
        busy=odds.busy,
        no_answer=odds.no_answer,
        failed=odds.failed,
        ring_time=_around(profile.ring_time, odds.ring_median_seconds),
        talk_time=_around(profile.talk_time, odds.talk_median_seconds),
        time_scale=time_scale,
    )


def _around(times: Distribution, median_s: float) -> Distribution:
    """``times`` with another median; a longer one moves the upper bound with it."""
    return replace(
        times,
        median_s=median_s,
        low_s=min(times.low_s, median_s),
        high_s=max(times.high_s, times.high_s * median_s / times.median_s),
    )


def build_worker(
    settings: Settings,
    database: Database,
    bus: EventBus,
    *,
    carrier: Carrier | None = None,
    config: WorkerConfig | None = None,
    stores: Stores | None = None,
) -> DialerWorker:
    stores = stores or stores_for(settings)
    recording_store = store_from_settings(settings)
    return DialerWorker(
        services=DatabaseServices(
            database,
            identity=new_dialer_identity(settings.dialer.trunk_name),
            campaign_lease_s=settings.dialer.campaign_lease_seconds,
        ),
        leads=HopperLeadSource(database, stores.hopper),
        carrier=carrier or carrier_for(settings),
        bus=worker_bus(bus),
        pool=stores.pool,
        config=replace(
            config or WorkerConfig(),
            trunk_name=settings.dialer.trunk_name,
            max_concurrent_calls=settings.dialer.max_calls,
            max_calls_per_second=settings.dialer.max_calls_per_second,
            extension_domain=extension_domain(settings),
        ),
        recorder=CallRecorder.from_settings(settings, recording_store),
        consent_prompts=ConsentPromptCache(
            recording_store, settings.recording_spool / "consent-prompts"
        ),
    )


def worker_bus(bus: EventBus) -> EventBus:
    """The worker's bus: metered, and a bus that talks to Redis published off the loop."""
    metered = MeteredBus(bus)
    return metered if isinstance(bus, InProcessEventBus) else OffLoopPublisher(metered)


class DialerThread:
    """A worker on its own event loop in a daemon thread; `stop()` winds it down
    (every call still up is hung up and reported) and waits for it."""

    def __init__(self, worker: DialerWorker) -> None:
        self.worker = worker
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="dialer", daemon=True)

    def start(self) -> DialerThread:
        self._thread.start()
        self._ready.wait(timeout=10)
        return self

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self.worker.run(self._stop)

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


def start_embedded_dialer(app_or_settings: Any, bus: EventBus) -> DialerThread:
    """Entry point `callcenter.embedded_services`: `callcenter run` starts it
    with its app (or settings) and bus, and calls `stop()` on the way out."""
    if isinstance(app_or_settings, Settings):
        settings = app_or_settings
        database = Database(settings.database_url)
    else:
        settings = app_or_settings.extensions["cc_settings"]
        database = app_or_settings.extensions["cc_database"]
    log.info("starting the embedded dialer (%s carrier)", settings.dialer.carrier)
    return DialerThread(build_worker(settings, database, bus)).start()
