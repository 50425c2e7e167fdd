"""How long the dialer's event loop is kept from running (the SIP timers and
RTP it carries wait that long) with the production stores: the ready-agent
pool and the hopper in Redis, events on Redis Streams.

    PYTHONPATH=. .venv/bin/python -m bench.dialer.loop_stalls \
        --redis-url redis://127.0.0.1:6379/11 --agents 50 --seconds 60

A probe task asks to wake every 5 ms and records how late it woke; the
figures are that lateness (p50, p99, max) and the share of wall time the
loop was late. SQLite file, a simulated carrier, the calls service consuming
the stream in this process, agents finishing each call at once. The Redis
database given is flushed first."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import redis

from callcenter import migrate
from callcenter.bus_redis import RedisStreamsEventBus
from callcenter.consumers import CALL_EVENTS, CallEventConsumer
from callcenter.db import Database
from callcenter.models import DialMode
from dialer.agent_pool import RedisAgentPool
from dialer.db_port import DatabaseServices
from dialer.embedded import DialerThread, worker_bus
from dialer.hopper import RedisHopper
from dialer.leads import HopperLeadSource
from dialer.simulated_carrier import Distribution, SimulatedCarrier, SimulationProfile
from dialer.worker import DialerWorker, WorkerConfig
from tests.integration.dialer.floor import AgentsFinishing, build_floor

PROBE_S = 0.005


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", required=True, help="a Redis database this may flush")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--talk", type=float, default=10.0, help="median talk time, s")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    client = redis.Redis.from_url(args.redis_url)
    client.flushdb()
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    migrate.upgrade(url)
    database = Database(url)
    floor = build_floor(
        database, agents_count=args.agents, leads_count=args.leads, dial_mode=DialMode.PREDICTIVE
    )
    floor.bus.stop()  # the floor's in-process bus: the stream carries the events here
    bus = RedisStreamsEventBus(args.redis_url, group=f"bench-{uuid.uuid4().hex[:8]}")
    consumer = CallEventConsumer(database)
    for event_class in CALL_EVENTS:
        bus.subscribe(event_class.TYPE, consumer)
    profile = SimulationProfile(machine=0.1, talk_time=Distribution(args.talk, 0.6, 3.0, 60.0))
    worker = DialerWorker(
        services=DatabaseServices(database),
        leads=HopperLeadSource(database, RedisHopper(client)),
        carrier=SimulatedCarrier(profile, seed=args.seed),
        bus=worker_bus(bus),
        pool=RedisAgentPool(client),
        config=WorkerConfig(),
    )
    lateness: list[float] = []
    run = worker.run

    async def probed_run(stop: asyncio.Event) -> None:
        async def probe() -> None:
            while not stop.is_set():
                asked = time.perf_counter()
                await asyncio.sleep(PROBE_S)
                lateness.append(max(0.0, time.perf_counter() - asked - PROBE_S))

        probing = asyncio.get_running_loop().create_task(probe())
        await run(stop)
        await probing

    worker.run = probed_run  # type: ignore[method-assign]
    finishing = AgentsFinishing(database)
    finishing.start()
    bus.start()
    thread = DialerThread(worker).start()
    time.sleep(args.seconds)
    thread.stop()
    finishing.stop()
    bus.stop()

    ordered = sorted(lateness)
    print(f"agents {args.agents}, {args.seconds:.0f} s, calls placed {worker.placed}")
    print(
        f"loop lateness over {len(ordered)} {PROBE_S * 1000:.0f} ms wake-ups: "
        f"p50 {statistics.median(ordered) * 1000:.2f} ms, "
        f"p99 {ordered[int(len(ordered) * 0.99)] * 1000:.2f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms, "
        f"late {sum(ordered) / args.seconds:.1%} of the time"
    )


if __name__ == "__main__":
    main()
