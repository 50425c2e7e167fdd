"""What the live floor's per-second tick costs the web process that leads it,
with the Redis counters production uses:

    PYTHONPATH=. .venv/bin/python -m bench.live_floor.tick \
        [--agents 200] [--calls 40] [--campaigns 2] [--ticks 300] [--changes 8] \
        [--redis-url redis://127.0.0.1:6379/4] [--publish]

The counters hold `--agents` agents' live rows spread over the campaigns,
`--calls` live calls, 30 past days of totals per campaign and today's. Between
two ticks (outside the measurement) `--changes` agents change state and as
many calls move, as a floor at ~7 attempts a second does. Prints this
process's CPU, the Redis round trips and the Python function calls (cProfile,
a last round of its own) per tick (`LiveFloor.tick`, emits to a function that
drops them; with `--publish`, published to the Socket.IO queue on that Redis
as a web process publishes them, their round trips counted). The floor's
database (campaign settings) is a SQLite file; the Redis database given is
flushed."""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from redis.connection import Connection

from bench.live_floor import counting
from bench.live_floor.counting import _counted_send
from callcenter import migrate
from callcenter.db import Database, utcnow
from callcenter.live_counters import RedisCounters
from callcenter.realtime import redis_emitter
from callcenter.services.floor.projection import LiveFloor
from callcenter.states import AgentState, CallState
from tests.factories import make_campaign

PAST_DAYS = 30
STATES = [AgentState.READY, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.PAUSED]


def agent_row(campaign_id: int, rng: random.Random) -> dict[str, Any]:
    state = rng.choice(STATES)
    return {
        "state": state,
        "since": (utcnow() - timedelta(seconds=rng.randint(1, 900))).isoformat(),
        "campaign_id": campaign_id,
        "reason": "break" if state is AgentState.PAUSED else None,
        "call_id": None,
    }


def call_row(number: int, campaign_id: int, day: str) -> dict[str, Any]:
    return {
        "call_id": f"call-{number}",
        "campaign_id": campaign_id,
        "lead_id": number,
        "day": day,
        "state": CallState.RINGING.value,
        "dialed_at": utcnow().isoformat(),
        "ringing_at": utcnow().isoformat(),
        "agent_id": None,
        "customer": None,
        "step": None,
        "inbound": False,
    }


def _emit(args: argparse.Namespace) -> Callable[[str, Any, str], None]:
    if not args.publish:
        return lambda *_: None
    emitter = redis_emitter(args.redis_url)

    def emit(name: str, data: Any, room: str) -> None:
        emitter.emit(name, data, to=room)

    return emit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--campaigns", type=int, default=2)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--changes", type=int, default=8, help="agents and calls changed a tick")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    parser.add_argument(
        "--publish", action="store_true", help="the snapshots go to the Socket.IO queue"
    )
    args = parser.parse_args()
    redis.Redis.from_url(args.redis_url).flushdb()
    Connection.send_packed_command = _counted_send  # type: ignore[method-assign]
    rng = random.Random(19)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        database = Database(url)
        with database.unit_of_work() as session:
            campaign_ids = [make_campaign(session).id for _ in range(args.campaigns)]
        counters = RedisCounters(args.redis_url)
        floor = LiveFloor(counters=counters, database=database, emit=_emit(args))
        today = floor.local_day(floor.clock())
        floor.ensure_built(today)
        for back in range(PAST_DAYS + 1):
            for cid in campaign_ids:
                counters.add(today - timedelta(days=back), cid, {"dials": 900.0, "contacts": 80})
        agents = {aid: rng.choice(campaign_ids) for aid in range(1, args.agents + 1)}
        for aid, cid in agents.items():
            counters.set_agent(aid, agent_row(cid, rng))
            counters.add(today, cid, {}, agent_id=aid, agent_deltas={"calls": 3})
        for number in range(args.calls):
            counters.set_call(
                f"call-{number}", call_row(number, rng.choice(campaign_ids), str(today))
            )
        floor.tick()  # the campaigns' settings read once, as every META_SECONDS

        def changes() -> None:
            for aid in rng.sample(list(agents), args.changes):
                counters.set_agent(aid, agent_row(agents[aid], rng))
            for _ in range(args.changes):
                number = rng.randrange(args.calls)
                row = call_row(number, rng.choice(campaign_ids), str(today))
                counters.set_call(f"call-{number}", row | {"state": CallState.CONNECTED.value})
            counters.add(today, campaign_ids[0], {"dials": 1.0})

        for round_number in range(args.rounds):
            cpu, trips = 0.0, 0
            for _ in range(args.ticks):
                changes()
                counting.round_trips = 0
                started = time.process_time()
                floor.tick()
                cpu += time.process_time() - started
                trips += counting.round_trips
            print(
                f"round {round_number + 1}: {cpu * 1000 / args.ticks:.3f} ms/tick CPU, "
                f"{trips / args.ticks:.1f} Redis round trips/tick"
            )
        profiler = cProfile.Profile()
        for _ in range(args.ticks):
            changes()
            profiler.runcall(floor.tick)
        calls = pstats.Stats(profiler).total_calls  # type: ignore[attr-defined]
        print(f"Python function calls/tick: {calls / args.ticks:.0f}")
        database.dispose()


if __name__ == "__main__":
    main()
