"""What publishing bus events costs, in Redis round trips and in this
process's CPU, on the two paths that publish several at a time:

- after commit: sessions with no database work queue K bus events
  (`publish_after_commit`) and commit;
- the dialer: an event loop publishes bursts of K events through the
  `OffLoopPublisher` (as a tick does), a short sleep between bursts.

    PYTHONPATH=. .venv/bin/python -m bench.bus_batches --redis redis://127.0.0.1:6391/3

Round trips are the server's reads of client sockets (`total_reads_processed`,
as the load floor counts them), so the Redis server should be one nothing
else uses; the stream's relay thread checks included. CPU is process time,
every thread's. Uses only what the code had before `publish_many`, so the
same file measures an older tree (copied there, run from there). The Redis database
given is flushed."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy.orm import sessionmaker

import callcenter
import dialer.publisher
from callcenter.bus_redis import RedisStreamsEventBus
from callcenter.events import CallAnswered, Event
from callcenter.services.bus_outbox import publish_after_commit
from dialer.publisher import OffLoopPublisher


def server_reads(client: Any) -> int:
    return int(client.info("stats")["total_reads_processed"])


def measure(client: Any, work: Callable[[], int]) -> tuple[float, float]:
    """(round trips, CPU us) per unit of `work` (a commit, an event), which
    returns how many units it did."""
    reads, cpu = server_reads(client), time.process_time()
    units = work()
    cpu = time.process_time() - cpu
    reads = server_reads(client) - reads - 1  # the INFO before it
    return reads / units, cpu / units * 1e6


def after_commit(bus: RedisStreamsEventBus, commits: int, per_commit: int) -> int:
    sessions = sessionmaker()
    events = [CallAnswered(call_id=f"c{number}") for number in range(per_commit)]
    for _ in range(commits):
        session = sessions()
        for event in events:
            publish_after_commit(session, bus, event)
        session.commit()
        session.close()
    return commits


def off_loop(bus: RedisStreamsEventBus, bursts: int, per_burst: int, pause_s: float) -> int:
    publisher = OffLoopPublisher(bus)
    events: list[Event] = [CallAnswered(call_id=f"c{number}") for number in range(per_burst)]

    async def run() -> None:
        for _ in range(bursts):
            for event in events:
                publisher.publish(event)
            await asyncio.sleep(pause_s)
        await publisher.drain()

    asyncio.run(run())
    publisher.stop()
    return bursts * per_burst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", required=True, help="a Redis database the bench may flush")
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--bursts", type=int, default=1000)
    parser.add_argument("--pause-ms", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client: Any = redis.Redis.from_url(args.redis)
    client.flushdb()
    print(f"code from {callcenter.__file__}, {dialer.publisher.__file__}")
    cases: list[tuple[str, Callable[[RedisStreamsEventBus], int]]] = []
    for k in (1, 2, 5):
        cases.append(
            (
                f"after commit, {k} events: per commit",
                lambda bus, k=k: after_commit(bus, args.commits, k),
            )
        )
    for k in (1, 4, 8):
        cases.append(
            (
                f"dialer, bursts of {k}: per event",
                lambda bus, k=k: off_loop(bus, args.bursts, k, args.pause_ms / 1000),
            )
        )
    try:
        for round_number in range(1, args.rounds + 1):
            for name, work in cases:
                bus = RedisStreamsEventBus(args.redis, stream=f"bench:{uuid.uuid4().hex}")
                bus.publish(CallAnswered(call_id="warm-up"))  # the marker, the script loaded
                try:
                    trips, cpu_us = measure(client, lambda work=work, bus=bus: work(bus))
                finally:
                    bus.stop()
                print(
                    f"round {round_number}, {name:33}: {trips:5.2f} round trips, "
                    f"{cpu_us:6.1f} us CPU"
                )
    finally:
        client.flushdb()


if __name__ == "__main__":
    main()
