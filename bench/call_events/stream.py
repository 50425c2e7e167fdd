"""What a consumer costs to apply call attempts' events read from the Redis
stream: one read (up to `bus_redis.READ_BATCH` events) in one transaction,
as `callcenter consume` now applies them, against one transaction an event
(the consumer with its `apply_together` hidden), on the same database in
the same run, the two taking turns:

    PYTHONPATH=. .venv/bin/python -m bench.call_events.stream \
        [--attempts 600] [--answered 0.2] [--rounds 3] \
        [--postgres postgresql://postgres@127.0.0.1:5432] [--redis-url redis://127.0.0.1:6379/6]

Each pass claims fresh leads and writes their calls rows as the dialer does
(not measured), publishes the attempts' events to a stream of its own, calls
overlapping as on a floor (`--overlap` calls dialed before the first of them
rings), then starts one consumer (a `RedisStreamsEventBus` member with the
call events' consumer subscribed, as `callcenter consume` has it) and
measures until it has acknowledged every event: this process's CPU, the CPU
of this database's PostgreSQL backends, SQL statements and commits, per
attempt. Answered attempts are connected to ready agents (one each per
pass; all are put back to ready between passes, not measured). The
after-commit path runs as in a consume process: browser pushes to a Socket.IO
server with no clients. A fresh database is made and dropped; the Redis
database given is flushed."""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis
from sqlalchemy import event, make_url, select, text

from bench.load_floor.floor_data import fresh_database
from callcenter import migrate
from callcenter.bus_redis import RedisStreamsEventBus
from callcenter.consumers import CALL_EVENTS, CallEventConsumer
from callcenter.db import Database, utcnow
from callcenter.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallRinging,
    Event,
)
from callcenter.models import Customer, Lead
from callcenter.services import agents, dispositions, lead_lifecycle
from callcenter.settings import load_settings
from callcenter.states import AgentState, Role
from dialer.db_port import DatabaseServices
from dialer.ports import ClaimedLead
from tests.factories import make_campaign, make_lead, make_team, make_user


@dataclass
class Floor:
    campaign_id: int
    agent_ids: list[int]
    leads: list[tuple[int, str]]


@dataclass
class Spent:
    attempts: int = 0
    cpu_s: float = 0.0
    postgres_s: float = 0.0
    statements: int = 0
    commits: int = 0
    wall_s: float = 0.0

    def line(self, label: str) -> str:
        n = self.attempts or 1
        return (
            f"{label:<13} {self.cpu_s * 1000 / n:6.2f} ms/attempt this process, "
            f"{self.postgres_s * 1000 / n:5.2f} ms PostgreSQL, "
            f"{self.statements / n:5.1f} statements, {self.commits / n:4.2f} commits, "
            f"{n / self.wall_s:6.1f} attempts/s applied"
        )


class Counters:
    def __init__(self, database: Database) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(database.engine, "before_cursor_execute", self._statement)
        event.listen(database.engine, "commit", self._commit)

    def _statement(self, *_args: object) -> None:
        self.statements += 1

    def _commit(self, *_args: object) -> None:
        self.commits += 1


def build(database: Database, agents_needed: int, leads: int) -> Floor:
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(session, teams=[team])
        agent_ids = [make_user(session, Role.AGENT, team=team).id for _ in range(agents_needed)]
        lead_ids = [make_lead(session, campaign).id for _ in range(leads)]
        of_campaign = (
            select(Lead.id, Customer.phone_e164)
            .join(Customer, Customer.id == Lead.customer_id)
            .where(Lead.campaign_id == campaign.id)
        )
        phones = {lead_id: phone for lead_id, phone in session.execute(of_campaign)}
        for number, agent_id in enumerate(agent_ids):
            agents.join_campaign(session, agent_id, campaign.id, f"sip:{2000 + number}@pbx.local")
        return Floor(campaign.id, agent_ids, [(lead_id, phones[lead_id]) for lead_id in lead_ids])


def all_ready(database: Database, floor: Floor) -> None:
    with database.unit_of_work() as session:
        for agent_id in floor.agent_ids:
            status = agents.status_of(session, agent_id)
            if status.state is AgentState.WRAP_UP:
                dispositions.set_disposition(
                    session, agent_id, status.current_call_id, "no_decision"
                )
            if agents.status_of(session, agent_id).state is not AgentState.READY:
                agents.go_ready(session, agent_id)


def attempts_events(
    floor: Floor, port: DatabaseServices, attempts: int, answered: float, overlap: int
) -> list[Event]:
    """The dialer's writes for each attempt (done here), then the events it
    would publish, `overlap` calls at a time: all dialed, all ringing, then
    each one's end."""
    rng = random.Random(attempts)
    free_agents = list(floor.agent_ids)
    published: list[Event] = []
    for first in range(0, attempts, overlap):
        group = []
        for _ in range(min(overlap, attempts - first)):
            lead_id, phone = floor.leads.pop()
            call_id = uuid.uuid4().hex
            attempt = lead_lifecycle.claim_counting_dnc(
                port.database, lead_id, now=utcnow(), campaign_id=floor.campaign_id
            )
            claimed = ClaimedLead(lead_id, floor.campaign_id, attempt, phone)
            port.open_call(call_id, claimed, agent_id=None, now=utcnow())
            agent_id = free_agents.pop() if rng.random() < answered and free_agents else None
            group.append((call_id, lead_id, attempt, agent_id))
        for call_id, lead_id, attempt, _agent in group:
            published.append(
                CallDialing(
                    call_id=call_id, campaign_id=floor.campaign_id, lead_id=lead_id, attempt=attempt
                )
            )
        published.extend(CallRinging(call_id=call_id) for call_id, *_ in group)
        for call_id, _lead, _attempt, agent_id in group:
            if agent_id is None:
                published.append(CallEnded(call_id=call_id, outcome="no_answer", sip_status=487))
                continue
            published += [
                CallAnswered(call_id=call_id),
                CallConnected(call_id=call_id, agent_id=agent_id),
                CallEnded(call_id=call_id, outcome="answered", agent_id=agent_id, talk_seconds=30),
            ]
    return published


@contextmanager
def measured(spent: Spent, counters: Counters, backends: Callable[[], list[int]]) -> Iterator[None]:
    def postgres_cpu() -> dict[int, float]:
        seen = {}
        for pid in backends():
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            seen[pid] = times.user + times.system
        return seen

    before_pg, before_cpu, before_wall = postgres_cpu(), time.process_time(), time.perf_counter()
    before_statements, before_commits = counters.statements, counters.commits
    yield
    spent.wall_s += time.perf_counter() - before_wall
    spent.cpu_s += time.process_time() - before_cpu
    spent.statements += counters.statements - before_statements
    spent.commits += counters.commits - before_commits
    after_pg = postgres_cpu()
    spent.postgres_s += sum(cpu - before_pg.get(pid, 0.0) for pid, cpu in after_pg.items())


def consume(
    redis_url: str,
    events: list[Event],
    handler: Callable[[Event], None],
    spent: Spent,
    counters: Counters,
    backends: Callable[[], list[int]],
) -> None:
    stream = f"bench:{uuid.uuid4().hex[:8]}"
    publisher = RedisStreamsEventBus(redis_url, stream=stream)
    for item in events:
        publisher.publish(item)
    consumer = RedisStreamsEventBus(redis_url, stream=stream, block_ms=100)
    for event_class in CALL_EVENTS:
        consumer.subscribe(event_class.TYPE, handler)
    with measured(spent, counters, backends):
        consumer.start()
        if not consumer.wait_until_idle(timeout=600):
            raise RuntimeError("the consumer did not apply every event in 10 minutes")
    consumer.stop()
    publisher.stop()


def run(url: str, redis_url: str, args: argparse.Namespace) -> None:
    from callcenter.app import create_app

    redis.Redis.from_url(redis_url).flushdb()
    answered_each = int(args.attempts * args.answered) + 10
    with tempfile.TemporaryDirectory() as tmp:
        migrate.upgrade(url)
        database = Database(url)
        settings = load_settings(environ={}, overrides={"env": "test", "instance_path": tmp})
        create_app(settings, database=database)  # the after-commit path's Socket.IO
        passes = 2 * args.rounds
        floor = build(database, answered_each, passes * args.attempts)
        port = DatabaseServices(database)
        counters = Counters(database)
        name = make_url(url).database
        backends = (
            backend_pids(database, name) if database.engine.dialect.name == "postgresql" else list
        )
        consumer = CallEventConsumer(database)

        def one_by_one(item: Event) -> None:
            consumer(item)

        kinds: dict[str, Callable[[Event], None]] = {
            "together": consumer,
            "one by one": one_by_one,
        }
        spent = {kind: Spent() for kind in kinds}
        for round_number in range(args.rounds):
            order = list(kinds) if round_number % 2 == 0 else list(reversed(kinds))
            for kind in order:
                all_ready(database, floor)
                events = attempts_events(floor, port, args.attempts, args.answered, args.overlap)
                consume(redis_url, events, kinds[kind], spent[kind], counters, backends)
                spent[kind].attempts += args.attempts
            print(f"after round {round_number + 1}:")
            for kind in kinds:
                print("  " + spent[kind].line(kind))
        database.dispose()


def backend_pids(database: Database, name: str | None) -> Callable[[], list[int]]:
    def pids() -> list[int]:
        with database.engine.connect() as connection:
            return list(
                connection.scalars(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": name}
                )
            )

    return pids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=600, help="a pass")
    parser.add_argument("--answered", type=float, default=0.2)
    parser.add_argument("--overlap", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default="", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    args = parser.parse_args()
    if args.postgres:
        with fresh_database(args.postgres) as url:
            run(url, args.redis_url, args)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.redis_url, args)


if __name__ == "__main__":
    main()
