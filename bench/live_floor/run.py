"""Live floor under load, run by hand:

    /work/venv/bin/python -m bench.live_floor.run [--agents 200] [--supervisors 20]
        [--seconds 20] [--rate 20] [--redis redis://127.0.0.1:6379/14]

The real app on a loopback port (SQLite file, in-process bus, in-process or
Redis counters), N agents cycling ready -> reserved -> on_call -> wrap_up ->
ready through the agents service, M supervisors connected with the
python-socketio client (websocket). Prints the delay from each state change
to the moment every supervisor has it (p50 / p99 / max), and the CPU the
per-second metrics loop costs (thread CPU time of `tick`)."""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import requests
import socketio
from werkzeug.serving import make_server

from callcenter import migrate
from callcenter.db import Database, utcnow
from callcenter.services import agents
from callcenter.services.floor.wiring import live_floor_of
from callcenter.settings import load_settings
from callcenter.states import AgentState, Role
from tests.factories import TEST_PASSWORD, make_campaign, make_team, make_user
from tests.support import free_port

CYCLE = {
    AgentState.READY: AgentState.RESERVED,
    AgentState.RESERVED: AgentState.ON_CALL,
    AgentState.ON_CALL: AgentState.WRAP_UP,
    AgentState.WRAP_UP: AgentState.READY,
}


def build(
    database: Database, agent_count: int, supervisor_count: int
) -> tuple[int, list[int], list[str]]:
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(session, name="Bench floor")
        campaign.teams = [team]
        names = []
        for _ in range(supervisor_count):
            supervisor = make_user(session, Role.SUPERVISOR)
            supervisor.supervised = [team]
            names.append(supervisor.username)
        agent_ids = [make_user(session, Role.AGENT, team=team).id for _ in range(agent_count)]
        session.flush()
        campaign_id = campaign.id
    for agent_id in agent_ids:
        with database.unit_of_work() as session:
            agents.join_campaign(session, agent_id, campaign_id, f"sip:{agent_id}@pbx")
            agents.go_ready(session, agent_id)
    return campaign_id, agent_ids, names


class Supervisor:
    def __init__(
        self, url: str, username: str, arrivals: dict[tuple[int, str], list[float]]
    ) -> None:
        http = requests.Session()
        http.post(f"{url}/login", data={"username": username, "password": TEST_PASSWORD})
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        self.client = socketio.Client(reconnection=False)
        self.snapshots = 0
        lock = threading.Lock()

        @self.client.on("agent.state_changed")
        def on_state(data: dict[str, Any]) -> None:
            now = time.perf_counter()
            with lock:
                arrivals[(data["agent_id"], data["since"])].append(now)

        @self.client.on("floor_snapshot")
        def on_snapshot(_data: dict[str, Any]) -> None:
            self.snapshots += 1

        self.client.connect(url, headers={"Cookie": cookie}, transports=["websocket"])
        reply = self.client.call("floor_state", {}, timeout=30)
        assert reply["ok"], reply


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--supervisors", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=20.0, help="state changes per second")
    parser.add_argument(
        "--redis", default="", help="Redis URL for the counters (default in-process)"
    )
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    from callcenter.app import create_app

    workdir = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    url = f"sqlite:///{workdir / 'floor.db'}"
    migrate.upgrade(url)
    database = Database(url)
    settings = load_settings(
        environ={},
        overrides={
            "env": "test",
            "instance_path": str(workdir / "instance"),
            "auth": {"login_rate_limit": "10000 per minute"},
        },
    )
    app = create_app(settings, database=database)
    app.config.update(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    floor = live_floor_of(app)
    if args.redis:
        import redis

        from callcenter.live_counters import RedisCounters

        redis.Redis.from_url(args.redis).flushdb()
        floor.counters = RedisCounters(args.redis)
    app.extensions["cc_bus"].start()
    _campaign_id, agent_ids, supervisors = build(database, args.agents, args.supervisors)

    tick_cpu: list[float] = []
    original_tick = floor.tick

    def measured_tick() -> int:
        started = time.thread_time()
        rooms = original_tick()
        tick_cpu.append(time.thread_time() - started)
        return rooms

    floor.tick = measured_tick  # type: ignore[method-assign]

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    arrivals: dict[tuple[int, str], list[float]] = defaultdict(list)
    clients = [Supervisor(base, name, arrivals) for name in supervisors]
    time.sleep(1.5)

    rng = random.Random(1)
    states = dict.fromkeys(agent_ids, AgentState.READY)
    sent: dict[tuple[int, str], float] = {}
    deadline = time.perf_counter() + args.seconds
    interval = 1.0 / args.rate
    next_at = time.perf_counter()
    while time.perf_counter() < deadline:
        agent_id = rng.choice(agent_ids)
        target = CYCLE[states[agent_id]]
        now = utcnow()
        started = time.perf_counter()
        with database.unit_of_work() as session:
            agents.change_state(session, agent_id, target, now=now)
        sent[(agent_id, now.isoformat())] = started
        states[agent_id] = target
        next_at += interval
        time.sleep(max(0.0, next_at - time.perf_counter()))
    time.sleep(2.0)

    delays, missing = [], 0
    for key, started in sent.items():
        got = arrivals.get(key, [])
        if len(got) < len(clients):
            missing += 1
            continue
        delays.append((max(got) - started) * 1000)
    delays.sort()
    snapshots = [client.snapshots for client in clients]
    for client in clients:
        client.client.disconnect()
    floor.stop()
    server.shutdown()
    app.extensions["cc_bus"].stop()

    def pct(p: float) -> float:
        return delays[min(len(delays) - 1, int(p * len(delays)))] if delays else float("nan")

    counters = "redis" if args.redis else "in-process"
    print(
        f"live floor bench: {args.agents} agents, {len(clients)} supervisors, counters {counters}"
    )
    print(
        f"state changes: {len(sent)} at {args.rate:g}/s, each to {len(clients)} supervisors; "
        f"{missing} not seen by every supervisor"
    )
    print(
        f"delay change -> all supervisors: p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, "
        f"max {delays[-1] if delays else float('nan'):.1f} ms"
    )
    if tick_cpu:
        mean = statistics.mean(tick_cpu) * 1000
        p99 = sorted(tick_cpu)[int(0.99 * len(tick_cpu))] * 1000
        print(
            f"metrics loop: {len(tick_cpu)} ticks, CPU {mean:.2f} ms per tick (1 tick/s) = "
            f"{mean / 10:.2f}% of one core; p99 {p99:.2f} ms"
        )
    print(f"snapshots received per supervisor: min {min(snapshots)}, max {max(snapshots)}")


if __name__ == "__main__":
    main()
