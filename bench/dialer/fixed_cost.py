"""What one dialer process burns a second whatever it dials: its CPU with
ready agents and nothing to dial, then its CPU per attempt at a low rate.

    PYTHONPATH=. .venv/bin/python -m bench.dialer.fixed_cost \
        --postgres postgresql://postgres@127.0.0.1:5432 \
        --redis-url redis://127.0.0.1:6379/7 --agents 200 --rate 6 --seconds 60

`callcenter dialer` runs as the load floor starts it (production settings,
PostgreSQL, the Redis hopper, agent pool and event stream, the simulated
carrier at the load floor's time scale for `--rate`, its calls-a-second
limit set to `--rate`), with one `callcenter consume` beside it and a
thread of this process setting each agent's disposition as they wrap up.
The campaign's agents are all ready (their phones answer at once). Two
phases of `--seconds` each: *idle*, the campaign has no lead (the pacer,
the agents' reads and the floor's reports still run every tick); *dialing*,
the campaign gets leads and the dialer places them. Per phase: the
dialer's CPU as a share of a core and per attempt, and the CPU of this
database's PostgreSQL backends (the consumer's and this process's
statements included) and the commands a second the Redis server processed
(every client's). A fresh database is made and dropped; the Redis
database given is flushed."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select

from bench.dialer.throughput import add_leads
from bench.load_floor import profile
from bench.load_floor.floor_data import fresh_database, offset_room_ids
from bench.load_floor.sampler import Sample, Sampler
from bench.load_floor.topology import Topology, environment
from callcenter import migrate
from callcenter.db import Database
from callcenter.models import Call, DialMode
from tests.integration.dialer.floor import AgentsFinishing, build_floor

RING_TIMEOUT_S = 25


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", required=True, help="a PostgreSQL server URL")
    parser.add_argument("--redis-url", required=True, help="a Redis database this may flush")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--rate", type=float, default=6.0, help="attempts/s while dialing")
    parser.add_argument("--seconds", type=float, default=60.0, help="per phase")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds before a phase")
    args = parser.parse_args()
    redis.Redis.from_url(args.redis_url).flushdb()
    with fresh_database(args.postgres) as url:
        run(args, url)


def run(args: argparse.Namespace, url: str) -> None:
    migrate.upgrade(url)
    database = Database(url)
    offset_room_ids(database)
    floor = build_floor(
        database,
        agents_count=args.agents,
        leads_count=0,
        dial_mode=DialMode.PREDICTIVE,
        ring_timeout_seconds=RING_TIMEOUT_S,
    )
    floor.bus.stop()  # the events go through the stream and `callcenter consume` here
    plan = profile.plan(
        rate=args.rate, agents=args.agents, ring_timeout_s=RING_TIMEOUT_S, wrap_s=0.0
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-dialer-fixed-"))
    env = environment(database_url=url, redis_url=args.redis_url, instance=workdir / "instance")
    topology = Topology(workdir, env)
    sampler = Sampler(args.redis_url, args.postgres + "/postgres", url.rsplit("/", 1)[1])
    finishing = AgentsFinishing(database)
    topology.start_consumers(1)
    dialer = topology.start_dialer(
        time_scale=plan.scale, max_calls=plan.max_calls, calls_per_second=args.rate
    )
    for process in topology.processes:
        sampler.watch(process.label, process.pid)
    sampler.start()
    finishing.start()
    print(f"{args.agents} agents, rate {args.rate:g}/s, {args.seconds:.0f} s a phase; {workdir}")
    print(
        "phase      attempts/s  dialer % core  dialer ms/attempt  postgres % core  load1"
        "  Redis commands/s"
    )
    try:
        time.sleep(args.settle)
        phase(sampler, database, "idle", args.seconds, args.redis_url)
        add_leads(database, floor.campaign_id, int(args.rate * (args.seconds + args.settle) * 2))
        time.sleep(args.settle)  # the next refill (every 10 s) finds them
        phase(sampler, database, "dialing", args.seconds, args.redis_url)
        if dialer.popen.poll() is not None:
            raise SystemExit(f"the dialer exited: see {dialer.log}")
    finally:
        finishing.stop()
        sampler.stop()
        topology.stop_all()
        database.engine.dispose()


def phase(sampler: Sampler, database: Database, name: str, seconds: float, redis_url: str) -> None:
    first, placed, commands = latest(sampler), calls(database), redis_commands(redis_url)
    time.sleep(seconds)
    last, attempts = latest(sampler), calls(database) - placed
    commands = redis_commands(redis_url) - commands
    span = last.at - first.at
    dialer = last.cpu["dialer"] - first.cpu["dialer"]
    postgres = (
        last.cpu["postgres (this DB's backends)"] - first.cpu["postgres (this DB's backends)"]
    )
    per_attempt = f"{dialer * 1000 / attempts:17.1f}" if attempts else f"{'-':>17}"
    print(
        f"{name:9}  {attempts / span:10.2f}  {dialer * 100 / span:13.1f}  {per_attempt}  "
        f"{postgres * 100 / span:15.1f}  {last.load1:5.2f}  {commands / span:16.0f}",
        flush=True,
    )


def redis_commands(url: str) -> int:
    """Commands the Redis server processed so far (every client: the dialer,
    the consumer and this process; a script's own commands counted)."""
    client = redis.Redis.from_url(url)
    try:
        stats: dict[str, Any] = client.info("stats")  # type: ignore[assignment]
        return int(stats["total_commands_processed"])
    finally:
        client.close()


def latest(sampler: Sampler) -> Sample:
    asked = time.time()
    while not sampler.samples or sampler.samples[-1].at < asked:
        time.sleep(0.1)
    return sampler.samples[-1]


def calls(database: Database) -> int:
    with database.read_sessions() as session:
        return session.scalar(select(func.count(Call.id))) or 0


if __name__ == "__main__":
    main()
