"""Run the load floor: build, start the topology, drive it, check, print.

    .venv/bin/python -m bench.load_floor [--duration 600] [--rate 30] [--redis-db 6]

Order: the data; web processes and consumers; the supervisors' client
process, then the agents' (all ready); the dialer, for `--duration`
seconds; then the dialer stops (its calls end), the agents finish their
wrap-ups and log out, the consumers drain, everything stops, and the
database, the stream and the clients' records are compared."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, make_url, select

from bench.load_floor import checks, floor_data, gather, profile, report
from bench.load_floor.sampler import Sampler
from bench.load_floor.topology import Process, Topology, environment
from callcenter.db import Database
from callcenter.models import AgentStatus, Call
from callcenter.states import AgentState, CallState


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of dialing")
    parser.add_argument("--rate", type=float, default=30.0, help="target call attempts per second")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--supervisors", type=int, default=20)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument(
        "--redis-db", type=int, required=True, help="a Redis db the bench may flush"
    )
    parser.add_argument("--web", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--consumers", type=int, default=1, help="`callcenter consume` processes")
    parser.add_argument("--agent-processes", type=int, default=2)
    parser.add_argument(
        "--web-applies-events",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="web processes read the event stream too (CC_WEB__APPLIES_EVENTS)",
    )
    parser.add_argument("--wrap", type=float, default=2.0, help="mean agent wrap-up, s")
    parser.add_argument("--occupancy", type=float, default=0.85)
    parser.add_argument("--ring-timeout", type=int, default=25, help="campaign ring timeout, s")
    parser.add_argument(
        "--calls-per-second",
        type=float,
        default=0,
        help="the trunk's limit on new calls a second (dialer --max-calls-per-second; 0: none)",
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=30.0,
        help="seconds measured before the dialer starts (agents ready, supervisors watching)",
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="CC_NAME=VALUE",
        help="a setting for every server process (e.g. CC_BUS__LINGER_MS=0); repeatable",
    )
    parser.add_argument("--workdir", default="", help="keep logs here (default: a temp dir)")
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    parser.add_argument(
        "--database-prefix", default="cc_load", help="the new database's name begins with it"
    )
    return parser.parse_args()


def start_clients(
    topology: Topology, label: str, config: dict[str, Any], timeout: float
) -> tuple[Process, Path]:
    workdir = topology.workdir
    config = {
        **config,
        "out": str(workdir / f"{label}.json"),
        "status": str(workdir / f"{label}.status"),
    }
    config_path = workdir / f"{label}.config.json"
    config_path.write_text(json.dumps(config))
    process = topology.start(
        label, [sys.executable, "-m", "bench.load_floor.clients", str(config_path)]
    )
    status = Path(config["status"])
    deadline = time.monotonic() + timeout
    while not status.exists():
        if process.popen.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{label} did not start its clients: see {process.log}")
        time.sleep(0.5)
    ready = json.loads(status.read_text())["ready"]
    wanted = len(config["agents"]) + len(config["supervisors"])
    print(f"  {label}: {ready} of {wanted} clients logged in and set up")
    return process, Path(config["out"])


def wait_until(condition: Any, seconds: float, what: str) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    print(f"  (gave up waiting for {what} after {seconds:.0f} s)")
    return False


def calls_placed(database: Database) -> int:
    with database.read_sessions() as session:
        return session.scalar(select(func.count(Call.id))) or 0


def first_dial(database: Database) -> float | None:
    with database.read_sessions() as session:
        first = session.scalar(select(func.min(Call.dialed_at)))
    return first.timestamp() if first is not None else None


def floor_is_quiet(database: Database, campaign_id: int) -> bool:
    with database.read_sessions() as session:
        open_calls = session.scalar(
            select(func.count(Call.id)).where(
                Call.campaign_id == campaign_id, Call.state != CallState.ENDED
            )
        )
        busy = session.scalar(
            select(func.count(AgentStatus.agent_id)).where(
                AgentStatus.state.in_([AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP])
            )
        )
    return open_calls == 0 and busy == 0


def groups_idle(client: Any, names: tuple[str, ...] = ("callcenter",)) -> bool:
    """The running consumers' groups have applied everything. The dialer's
    group is not waited for: its only member has stopped, and what it held or
    had not read yet stays for the next dialer."""
    try:
        groups = client.xinfo_groups("cc:events")
    except redis.ResponseError:
        return True
    return all(
        int(g["pending"]) == 0 and int(g.get("lag") or 0) == 0
        for g in groups
        if g["name"].decode() in names
    )


@dataclass
class Floor:
    """The running topology and the client processes driving it."""

    args: argparse.Namespace
    data: floor_data.FloorData
    topology: Topology
    sampler: Sampler
    database: Database
    redis_url: str
    supervisors: tuple[Process, Path] | None = None
    agents: list[tuple[Process, Path]] = field(default_factory=list)

    @property
    def outputs(self) -> list[Path]:
        return [out for _p, out in self.agents] + (
            [self.supervisors[1]] if self.supervisors else []
        )


def main() -> None:
    args = parse_args()
    redis_url = f"{args.redis.rstrip('/')}/{args.redis_db}"
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="load-floor-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    print(
        f"load floor: {args.agents} agents, {args.supervisors} supervisors, target "
        f"{args.rate:g} attempts/s for {args.duration:.0f} s; {cores} cores, load average "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} at start; logs in {workdir}"
    )
    plan = profile.plan(
        rate=args.rate,
        agents=args.agents,
        ring_timeout_s=args.ring_timeout,
        wrap_s=args.wrap,
        occupancy=args.occupancy,
    )
    for line in plan.lines():
        print(line)
    leads = math.ceil(args.rate * args.duration * 1.2) + 1000
    redis_client: Any = redis.Redis.from_url(redis_url)
    redis_client.flushdb()
    with floor_data.fresh_database(
        args.postgres, keep=args.keep_database, prefix=args.database_prefix
    ) as database_url:
        started = time.perf_counter()
        data = floor_data.build(
            database_url,
            agents=args.agents,
            supervisors=args.supervisors,
            leads=leads,
            ring_timeout_s=args.ring_timeout,
        )
        print(f"  data built in {time.perf_counter() - started:.0f} s (database {database_url})")
        database = Database(database_url)
        env = environment(
            database_url=database_url, redis_url=redis_url, instance=workdir / "instance"
        )
        env["CC_WEB__APPLIES_EVENTS"] = "true" if args.web_applies_events else "false"
        env.update(setting.split("=", 1) for setting in args.setting)
        database_name = make_url(database_url).database
        # the server's own database, on the same address (a TCP port or a
        # Unix socket's directory, ?host=...)
        server_database = make_url(args.postgres).set(database="postgres")
        floor = Floor(
            args=args,
            data=data,
            topology=Topology(workdir, env),
            sampler=Sampler(
                redis_url, server_database.render_as_string(hide_password=False), database_name
            ),
            database=database,
            redis_url=redis_url,
        )
        try:
            run(floor, plan, cores)
        finally:
            floor.topology.stop_all()
            floor.sampler.stop()
            database.dispose()
            redis_client.flushdb()


def run(floor: Floor, plan: profile.ProfilePlan, cores: int) -> None:
    start_floor(floor)
    idle = measure_idle(floor)
    window = dial(floor, plan)
    wind_down(floor)
    print_figures(floor, window, idle, cores)


def measure_idle(floor: Floor) -> report.Window | None:
    """The floor with no calls: every agent ready, every supervisor watching."""
    if floor.args.idle <= 0:
        return None
    print(f"  idle floor: measuring {floor.args.idle:.0f} s before the dialer starts")
    time.sleep(5)
    start = time.time()
    time.sleep(floor.args.idle)
    return report.Window(start, time.time())


def start_floor(floor: Floor) -> None:
    """Web processes and consumers, then supervisors, then agents (all ready)."""
    args, topology = floor.args, floor.topology
    topology.start_web(args.web)
    topology.start_consumers(args.consumers)
    for process in topology.processes:
        floor.sampler.watch(process.label, process.pid)
    floor.sampler.start()
    base = {
        "web_urls": topology.web_urls,
        "password": floor_data.PASSWORD,
        "campaign_id": floor.data.campaign_id,
        "wrap_s": args.wrap,
        "leave_s": 30,
    }
    print(f"  web {', '.join(topology.web_urls)}; starting clients")
    supervisors = {**base, "agents": [], "supervisors": floor.data.supervisors, "seed": 0}
    floor.supervisors = start_clients(topology, "supervisors", supervisors, timeout=300)
    floor.sampler.watch("clients: supervisors", floor.supervisors[0].pid)
    for number in range(args.agent_processes):
        names = floor.data.agents[number :: args.agent_processes]
        label = f"agents{number + 1}"
        config = {**base, "agents": names, "supervisors": [], "seed": number + 1}
        process, out = start_clients(topology, label, config, timeout=600)
        floor.sampler.watch(f"clients: {label}", process.pid)
        floor.agents.append((process, out))


def dial(floor: Floor, plan: profile.ProfilePlan) -> report.Window:
    """The dialer from its first call for `--duration` seconds; then it stops."""
    dialer = floor.topology.start_dialer(
        time_scale=plan.scale,
        max_calls=plan.max_calls,
        calls_per_second=floor.args.calls_per_second,
    )
    floor.sampler.watch("dialer", dialer.pid)
    wait_until(lambda: calls_placed(floor.database) > 0, 120, "the dialer's first call")
    start = first_dial(floor.database) or time.time()
    limit = floor.args.calls_per_second
    print(
        f"  dialer placing calls; dialing for {floor.args.duration:.0f} s"
        + (f", at most {limit:g} new calls a second" if limit else "")
    )
    while time.time() - start < floor.args.duration:
        time.sleep(min(30.0, floor.args.duration - (time.time() - start)))
        dead = floor.topology.dead()
        if dead:
            names = ", ".join(p.label for p in dead)
            raise SystemExit(f"{names} exited: see {floor.topology.workdir}")
        last = floor.sampler.samples[-1] if floor.sampler.samples else None
        lag = last.groups.get("callcenter", (0, 0, 0.0)) if last else (0, 0, 0.0)
        print(
            f"  t={time.time() - start:4.0f} s: {calls_placed(floor.database)} calls placed, "
            f"consumer lag {lag[0]}, oldest unacked {lag[2]:.1f} s, "
            f"load {os.getloadavg()[0]:.2f}"
        )
    code = dialer.stop(timeout=120)
    print(f"  dialer stopped (exit {code}); draining")
    return report.Window(start, time.time())


def wind_down(floor: Floor) -> None:
    """Agents finish their wrap-ups and log out, supervisors leave, the
    consumer groups drain, then the web and consume processes stop."""
    redis_client: Any = redis.Redis.from_url(floor.redis_url)
    wait_until(
        lambda: floor_is_quiet(floor.database, floor.data.campaign_id), 90, "calls and wrap-ups"
    )
    for process, _out in floor.agents:
        process.stop(timeout=180)
    time.sleep(2)
    if floor.supervisors:
        floor.supervisors[0].stop(timeout=60)
    wait_until(lambda: groups_idle(redis_client), 120, "the consumer groups to drain")
    floor.sampler.stop()
    if floor.sampler.failures:
        failures = floor.sampler.failures
        print(f"  sampler: {len(failures)} samples lost, e.g. {failures[0]}")
    for process in floor.topology.processes:
        if process.label.startswith(("web", "consume")):
            process.stop(timeout=60)


def print_figures(
    floor: Floor, window: report.Window, idle: report.Window | None, cores: int
) -> None:
    args = floor.args
    clients = [json.loads(out.read_text()) for out in floor.outputs if out.exists()]
    if len(clients) != len(floor.outputs):
        print("  a client process wrote no results: see its log")
    events, dead_letters = gather.from_stream(floor.redis_url)
    observed = gather.Observed(
        **gather.from_database(floor.database, floor.data.campaign_id),
        events=events,
        dead_letters=dead_letters,
        clients=clients,
        supervisor_delays=gather.supervisor_delays(clients),
    )
    observed.log_problems, observed.log_warnings = gather.from_logs(
        {p.label: p.log for p in floor.topology.processes}
    )
    print()
    print(
        f"=== load floor: {args.agents} agents, {args.supervisors} supervisors, "
        f"{args.web} web ({'applying events' if args.web_applies_events else 'sockets only'}) + "
        f"{args.consumers} consume + 1 dialer, target {args.rate:g}/s, "
        f"{window.seconds:.0f} s ==="
    )
    report.print_calls(observed, window)
    report.print_latencies(observed, window)
    report.print_lag(floor.sampler.samples, observed, window)
    report.print_processes(floor.sampler.samples, window, cores)
    attempts = sum(1 for c in observed.calls.values() if window.start <= c.dialed_at < window.end)
    report.print_cost_per_attempt(floor.sampler.samples, window, attempts, idle)
    report.print_clients(observed)
    report.print_errors(observed)
    report.print_checks(checks.run(observed))


if __name__ == "__main__":
    main()
