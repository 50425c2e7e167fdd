"""One dialer process's attempts a second, end to end, at offered rates it
steps up:

    PYTHONPATH=. .venv/bin/python -m bench.dialer.throughput \
        --postgres postgresql://postgres@127.0.0.1:5432 \
        --redis-url redis://127.0.0.1:6379/5 --rates 25,50,100,150 --seconds 30

The dialer runs in a process of its own as `callcenter dialer` composes it
(PostgreSQL, the Redis hopper and agent pool, events on Redis Streams through
the OffLoopPublisher, the simulated carrier), its offered rate set through
the trunk's calls-a-second limit (`dialer.max_calls_per_second`), changed
at each step; it also times its ticks and how late its loop wakes. The
events are applied by `callcenter consume`, a process of its own. The
profile makes high rates possible: few answers, short rings, short talk,
and agents who finish at once (a thread of this process sets their
disposition). Per step: attempts/s placed, CPU per attempt of the dialer, of
the consumer and of this database's PostgreSQL backends (the agents' writes
from this process included), tick durations, loop lateness, and the
stream's backlog (events not yet acknowledged by the consumers' group) at the
end of the step. A fresh database is made and dropped; the Redis database
given is flushed."""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import insert

from bench.load_floor.floor_data import fresh_database, offset_room_ids
from bench.load_floor.sampler import Sample, Sampler
from bench.load_floor.topology import Topology, environment
from callcenter import migrate
from callcenter.db import Database
from callcenter.models import Customer, DialMode, Lead
from tests.integration.dialer.floor import AgentsFinishing, build_floor

PROBE_S = 0.005
PROFILE = {  # the simulated carrier's odds and times (CC_DIALER__SIMULATION__*)
    "ANSWER": "0.05",
    "MACHINE": "0",
    "BUSY": "0.35",
    "NO_ANSWER": "0.30",
    "FAILED": "0.30",
    "RING_MEDIAN_SECONDS": "1.5",
    "TALK_MEDIAN_SECONDS": "3",
}
RING_TIMEOUT_S = 3  # an unanswered call rings this long


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a database is made on it)")
    parser.add_argument("--redis-url", required=True, help="a Redis database this may flush")
    parser.add_argument("--rates", default="25,50,100,150", help="offered attempts/s, each a step")
    parser.add_argument("--rate", type=float, help="one step at this rate (overrides --rates)")
    parser.add_argument("--seconds", type=float, default=30.0, help="per step")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--consumers", type=int, default=1, help="`callcenter consume` processes")
    parser.add_argument(
        "--answer", default=PROFILE["ANSWER"], help="share of calls answered (0: no agent needed)"
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the dialer process: its schedule
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(json.loads(args.serve)))
        return
    rates = [args.rate] if args.rate else [float(rate) for rate in args.rates.split(",")]
    redis.Redis.from_url(args.redis_url).flushdb()
    with fresh_database(args.postgres) as url:
        run(args, url, rates)


def run(args: argparse.Namespace, url: str, rates: list[float]) -> None:
    migrate.upgrade(url)
    database = Database(url)
    offset_room_ids(database)
    floor = build_floor(
        database,
        agents_count=args.agents,
        leads_count=0,
        dial_mode=DialMode.PREDICTIVE,
        max_lines_per_agent=10,
        ring_timeout_seconds=RING_TIMEOUT_S,
    )
    floor.bus.stop()  # the events go through the stream and `callcenter consume` here
    add_leads(database, floor.campaign_id, args.leads)
    workdir = Path(tempfile.mkdtemp(prefix="bench-dialer-"))
    env = environment(database_url=url, redis_url=args.redis_url, instance=workdir / "instance")
    profile = PROFILE | {"ANSWER": args.answer}
    env.update({f"CC_DIALER__SIMULATION__{key}": value for key, value in profile.items()})
    topology = Topology(workdir, env)
    sampler = Sampler(args.redis_url, args.postgres + "/postgres", url.rsplit("/", 1)[1])
    finishing = AgentsFinishing(database)
    topology.start_consumers(args.consumers)
    schedule = json.dumps({"rates": rates, "seconds": args.seconds})
    command = [sys.executable, "-m", "bench.dialer.throughput", "--redis-url", args.redis_url]
    dialer = subprocess.Popen(
        [*command, "--serve", schedule],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=(workdir / "dialer.log").open("wb"),
        text=True,
    )
    sampler.watch("dialer", dialer.pid)
    for process in topology.processes:
        sampler.watch(process.label, process.pid)
    sampler.start()
    finishing.start()
    print(
        f"{args.agents} agents, {args.leads} leads, {args.consumers} consume processes, "
        f"profile {profile}; logs in {workdir}"
    )
    print(
        "offered/s  pacer asked/s  placed/s  CPU ms/attempt: dialer consume postgres  "
        "tick ms p50/p99/max  loop late ms p99/max  backlog (oldest s)  load1"
    )
    try:
        assert dialer.stdout is not None
        last: dict[str, Any] | None = None
        for line in dialer.stdout:
            step = json.loads(line)
            if last is not None:
                print(row(step, last, sampler))
            last = step
    finally:
        dialer.wait(60)
        finishing.stop()
        sampler.stop()
        topology.stop_all()
        database.engine.dispose()
    print(f"agents finished {finishing.done} calls; errors {len(finishing.errors)}")


def add_leads(database: Database, campaign_id: int, count: int) -> None:
    with database.unit_of_work() as session:
        customer_ids = session.scalars(
            insert(Customer).returning(Customer.id),
            [
                {"phone_e164": f"+98935{n:07d}", "first_name": "Sara", "last_name": "Ahmadi"}
                for n in range(count)
            ],
        ).all()
        session.execute(
            insert(Lead), [{"campaign_id": campaign_id, "customer_id": c} for c in customer_ids]
        )


def row(step: dict[str, Any], last: dict[str, Any], sampler: Sampler) -> str:
    seconds = step["at"] - last["at"]
    attempts = max(1, step["placed"] - last["placed"])
    before, after = nearest(sampler, last["at"]), nearest(sampler, step["at"])
    consume = sum(
        after.cpu[label] - before.cpu.get(label, 0.0) for label in after.cpu if "consume" in label
    )
    postgres = (
        after.cpu["postgres (this DB's backends)"] - before.cpu["postgres (this DB's backends)"]
    )
    lag, pending, oldest = after.groups.get("callcenter", (0, 0, 0.0))
    ticks, late = sorted(step["ticks"]), sorted(step["late"])
    return (
        f"{step['rate']:9.0f}  {(step['wanted'] - last['wanted']) / seconds:13.1f}  "
        f"{attempts / seconds:8.1f}  "
        f"{(step['cpu'] - last['cpu']) * 1000 / attempts:19.1f} "
        f"{consume * 1000 / attempts:7.1f} {postgres * 1000 / attempts:8.1f}  "
        f"{pct(ticks, 0.5):6.0f}/{pct(ticks, 0.99):4.0f}/{pct(ticks, 1):4.0f}  "
        f"{pct(late, 0.99):12.1f}/{pct(late, 1):4.0f}  "
        f"{lag + pending:7d} ({oldest:4.1f})  {after.load1:5.2f}"
    )


def nearest(sampler: Sampler, at: float) -> Sample:
    while not sampler.samples or sampler.samples[-1].at < at:
        time.sleep(0.2)
    return min(sampler.samples, key=lambda sample: abs(sample.at - at))


def pct(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else 0.0


async def serve(schedule: dict[str, Any]) -> None:
    """The dialer process: `callcenter dialer`'s composition, its calls a
    second set per step, one JSON line on stdout at the start and the end of
    each step (calls placed, this process's CPU, tick and lateness figures)."""
    from callcenter.settings import load_settings
    from dialer.cli import _bus_for
    from dialer.embedded import build_worker, carrier_for
    from dialer.worker import WorkerConfig

    settings = load_settings()
    database = Database(settings.database_url)
    bus = _bus_for(settings.redis_url, database)
    worker = build_worker(
        settings, database, bus, carrier=carrier_for(settings), config=WorkerConfig()
    )
    worker.subscribe()
    bus.start()
    ticks: list[float] = []
    late: list[float] = []
    tick = worker.tick

    async def timed_tick() -> None:
        started = time.perf_counter()
        await tick()
        ticks.append(time.perf_counter() - started)

    worker.tick = timed_tick  # type: ignore[method-assign]
    wanted = [0]
    within_rate = worker.pacers._within_rate

    def counted(plan: Any, launches: int, sharing: int) -> int:
        wanted[0] += launches  # what the pacer asked for, before the calls-a-second limit
        return within_rate(plan, launches, sharing)

    worker.pacers._within_rate = counted  # type: ignore[method-assign,assignment]
    worker.call_rate.per_second = worker.call_rate.burst = schedule["rates"][0]
    stop = asyncio.Event()
    running = asyncio.get_running_loop().create_task(worker.run(stop))

    def report(rate: float) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        figures = {"ticks": ticks, "late": late, "placed": worker.placed, "wanted": wanted[0]}
        line = {"at": time.time(), "rate": rate, "cpu": usage.ru_utime + usage.ru_stime}
        print(json.dumps(line | figures), flush=True)
        ticks.clear()
        late.clear()

    async def probe() -> None:
        while not stop.is_set():
            asked = time.perf_counter()
            await asyncio.sleep(PROBE_S)
            late.append(max(0.0, time.perf_counter() - asked - PROBE_S))

    probing = asyncio.get_running_loop().create_task(probe())
    while worker.ticked_at is None:
        await asyncio.sleep(0.1)
    report(0)
    for rate in schedule["rates"]:
        worker.call_rate.per_second = worker.call_rate.burst = rate
        await asyncio.sleep(schedule["seconds"])
        report(rate)
    stop.set()
    await running
    await probing
    bus.stop()


if __name__ == "__main__":
    main()
