"""What the dialer's own calls into the product cost, one at a time, in
this process: CPU (this thread's) and SQL statements per call, on
PostgreSQL, with browser pushes going out through Redis as `callcenter
dialer` sends them.

    PYTHONPATH=. .venv/bin/python -m bench.dialer.port_calls \
        --postgres postgresql://postgres@127.0.0.1:5432 \
        --redis-url redis://127.0.0.1:6379/6 --agents 200 --rounds 300

Measured: reserving a ready agent for a live answer (`reserve_agent`, a
calls row written) and letting them go again (`release_agent`); claiming a
batch of `--batch` leads from the Redis hopper (`next_leads`, the hopper
refilled between batches, not measured) and writing their calls rows
(`open_calls`); the hopper's refill (its 500 best offers read and
written to Redis, every 10 s); the ready-agent pool's sync with every agent ready, the
same as the last and with one agent's time moved; the pacer's decision with every
agent ready; and the per-tick reads of an idle dialer (the agents, the
abandon tallies, the campaigns held, the floor sweep). A fresh database is
made and dropped; the Redis database given is flushed."""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import event

from bench.load_floor.floor_data import fresh_database
from callcenter import migrate
from callcenter.db import Database, utcnow
from callcenter.models import DialMode
from callcenter.realtime import BROADCASTER, redis_emitter
from callcenter.services import calls
from dialer.agent_pool import RedisAgentPool
from dialer.db_port import DatabaseServices
from dialer.hopper import RedisHopper
from dialer.leads import HopperLeadSource
from dialer.pacing import AbandonTally, AgentStatus, AgentView, Pacer, PacerState
from dialer.pacing import DialMode as PacerMode
from dialer.ports import ClaimedLead
from tests.integration.dialer.floor import build_floor


def clock_at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", required=True, help="a PostgreSQL server URL")
    parser.add_argument("--redis-url", required=True, help="a Redis database this may flush")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--batch", type=int, default=6, help="leads claimed together")
    args = parser.parse_args()
    redis.Redis.from_url(args.redis_url).flushdb()
    with fresh_database(args.postgres) as url:
        run(args, url)


class Statements:
    """SQL statements run, and Redis round trips (commands sent, a pipeline
    or a script once) by every Redis client of this process."""

    def __init__(self, database: Database) -> None:
        self.count = 0
        self.round_trips = 0
        event.listen(database.engine, "before_cursor_execute", self._seen)
        send = redis.connection.AbstractConnection.send_packed_command

        def counted(connection: Any, command: Any, check_health: bool = True) -> None:
            self.round_trips += 1
            send(connection, command, check_health)

        redis.connection.AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]

    def _seen(self, *_args: Any) -> None:
        self.count += 1


def measure(
    name: str,
    statements: Statements,
    rounds: int,
    call: Callable[[int], Any],
    between: Callable[[int], Any] | None = None,
) -> None:
    cpu: list[float] = []
    counted = round_trips = 0
    for number in range(rounds):
        if between is not None:
            between(number)
        before_statements = statements.count
        before_round_trips = statements.round_trips
        started = time.thread_time()
        call(number)
        cpu.append(time.thread_time() - started)
        counted += statements.count - before_statements
        round_trips += statements.round_trips - before_round_trips
    cpu.sort()
    print(
        f"{name:28} {statistics.fmean(cpu) * 1000:7.3f} ms mean  "
        f"{cpu[len(cpu) // 2] * 1000:7.3f} p50  {cpu[int(len(cpu) * 0.9)] * 1000:7.3f} p90  "
        f"{counted / rounds:5.1f} statements  {round_trips / rounds:5.1f} Redis round trips",
        flush=True,
    )


def run(args: argparse.Namespace, url: str) -> None:
    migrate.upgrade(url)
    database = Database(url)
    database.sessions.configure(info={BROADCASTER: redis_emitter(args.redis_url)})
    leads_count = (args.batch + 1) * args.rounds + 100  # a calls row's lead is not dialed
    floor = build_floor(
        database, agents_count=args.agents, leads_count=leads_count, dial_mode=DialMode.PREDICTIVE
    )
    floor.bus.stop()
    services = DatabaseServices(database)
    services.sign_in(now=utcnow())
    statements = Statements(database)
    campaign_id, agent_ids = floor.campaign_id, floor.agent_ids

    # warm up: compiled statements cached, the pool filled
    services.hold_campaigns(now=utcnow())
    services.agents()

    call_ids = [uuid.uuid4().hex for _ in range(args.rounds)]
    lead_ids = floor.lead_ids
    with database.unit_of_work() as session:
        calls.open_calls(
            session,
            [
                calls.OpeningCall(
                    call_id=call_id,
                    campaign_id=campaign_id,
                    lead_id=lead_ids[-1 - n],
                    attempt=1,
                    phone_e164="+15550000000",
                )
                for n, call_id in enumerate(call_ids)
            ],
            dialer_id=services.dialer_id,
            at=utcnow(),
        )

    def reserve(number: int) -> None:
        agent_id = agent_ids[number % len(agent_ids)]
        call_id = call_ids[number % len(call_ids)]
        assert services.reserve_agent(agent_id, call_id=call_id, now=utcnow(), reason="live answer")

    def release(number: int) -> None:
        services.release_agent(agent_ids[number % len(agent_ids)], now=utcnow(), reason="bench")

    def release_before(number: int) -> None:
        if number:
            release(number - 1)

    measure("reserve_agent", statements, args.rounds, reserve, between=release_before)
    release(args.rounds - 1)
    measure("release_agent", statements, args.rounds, release, between=reserve)

    hopper = RedisHopper.from_url(args.redis_url)
    source = HopperLeadSource(database, hopper)
    claimed: list[ClaimedLead] = []

    def refill(_number: int) -> None:
        if hopper.size(campaign_id) < args.batch:
            source.refill([campaign_id], now=utcnow())

    def claim(_number: int) -> None:
        got = source.next_leads(campaign_id, args.batch, now=utcnow())
        assert len(got) == args.batch, len(got)
        claimed.extend(got)

    measure(f"next_leads ({args.batch})", statements, args.rounds, claim, between=refill)
    measure(
        "refill (hopper to 500)",
        statements,
        max(args.rounds // 10, 10),
        lambda n: source.refill([campaign_id], now=utcnow()),
    )

    def open_batch(number: int) -> None:
        batch = claimed[number * args.batch : (number + 1) * args.batch]
        services.open_calls([(uuid.uuid4().hex, lead) for lead in batch], now=utcnow())

    measure(f"open_calls ({args.batch})", statements, args.rounds, open_batch)

    pool = RedisAgentPool(redis.Redis.from_url(args.redis_url))
    ready = [(agent_id, clock_at(number)) for number, agent_id in enumerate(agent_ids)]
    measure(
        f"pool sync ({len(ready)} ready, same)",
        statements,
        args.rounds,
        lambda n: pool.sync(campaign_id, ready),
    )

    def one_moved(number: int) -> None:
        moved = list(ready)
        moved[number % len(moved)] = (moved[number % len(moved)][0], clock_at(-number - 1))
        pool.sync(campaign_id, moved)

    measure(f"pool sync ({len(ready)} ready, 1 moved)", statements, args.rounds, one_moved)

    pacer = Pacer()
    state = PacerState(
        mode=PacerMode.PREDICTIVE,
        agents=[AgentView(status=AgentStatus.READY, elapsed=5.0) for _ in agent_ids],
        calls_in_flight=[],
        waiting_calls=0,
        outcomes=[],
        services=[],
        today=AbandonTally(0, 0),
        last_30_days=AbandonTally(0, 0),
        abandon_cap=0.03,
        max_lines_per_agent=3.0,
        trunk_limit=None,
    )
    measure("pacer decide (all ready)", statements, args.rounds, lambda n: pacer.decide(state))

    clock = utcnow()
    measure("agents", statements, args.rounds, lambda n: services.agents())
    measure(
        "abandon_tallies",
        statements,
        args.rounds,
        lambda n: services.abandon_tallies(campaign_id, now=clock + timedelta(seconds=n)),
    )
    measure(
        "hold_campaigns",
        statements,
        args.rounds,
        lambda n: services.hold_campaigns(now=clock + timedelta(seconds=n)),
    )
    measure(
        "sweep_floor",
        statements,
        args.rounds,
        lambda n: services.sweep_floor(now=clock + timedelta(seconds=n)),
    )
    database.engine.dispose()


if __name__ == "__main__":
    main()
