"""The dialer on a real network: `callcenter dialer` and `callcenter consume`
on PostgreSQL and Redis, the trunk (sipp) and the agents' phones (sipp,
echoing RTP) on another host (a network namespace, 10.231.40.2), agents
talking for a while, then dispositioning. Prints attempts/s, dialogs held,
abandons and the dialer's CPU.

    .venv/bin/python -m bench.sip_network --duration 600 --agents 20 --redis-db 7

Needs root (the namespace), sipp, PostgreSQL and Redis. Numbers ending in 1
are busy (the trunk scenario); every other number answers and waits for our
BYE, which the agent sends after `--talk` seconds (uniform 0.5x-1.5x)."""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from callcenter import migrate
from callcenter.bus_redis import RedisStreamsEventBus
from callcenter.db import Database
from callcenter.events import CallHangupRequested
from callcenter.models import Call, DialMode
from callcenter.services import agents
from callcenter.states import CallOutcome, CallState, Role
from tests.factories import make_campaign, make_lead, make_team, make_user
from tests.integration.dialer.floor import ALWAYS_OPEN, AgentsFinishing
from tests.integration.dialer.topology import Process, environment, start_process
from tests.integration.sip.netns import Netns

SCENARIOS = Path(__file__).resolve().parents[2] / "tests/integration/dialer/scenarios"
TRUNK_PORT, PHONES_PORT = 5060, 5080
TRUNK_NAME = "bench-trunk"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of dialing")
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--talk", type=float, default=20.0, help="mean talk time, s")
    parser.add_argument("--mode", choices=["predictive", "progressive"], default="predictive")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--redis-db", type=int, required=True, help="a db the bench may flush")
    parser.add_argument("--subnet", default="10.231.40")
    parser.add_argument("--workdir", default="", help="keep logs here (default: a temp dir)")
    return parser.parse_args()


class AgentsTalking(threading.Thread):
    """Each connected call is hung up by its agent after a talk time (over the
    bus, as the agent's screen asks)."""

    def __init__(self, database: Database, redis_url: str, talk_s: float) -> None:
        super().__init__(name="agents-talking", daemon=True)
        self.database = database
        self.talk_s = talk_s
        self.asked: dict[str, float] = {}
        self.bus = RedisStreamsEventBus(redis_url)
        self._halt = threading.Event()
        self._rng = random.Random(7)

    def run(self) -> None:
        due: dict[str, tuple[float, int]] = {}
        while not self._halt.wait(0.2):
            with self.database.sessions() as session:
                connected = session.execute(
                    select(Call.id, Call.agent_id).where(
                        Call.connected_at.is_not(None), Call.state != CallState.ENDED
                    )
                ).all()
            now = time.monotonic()
            for call_id, agent_id in connected:
                if call_id not in due and call_id not in self.asked and agent_id is not None:
                    due[call_id] = (now + self.talk_s * self._rng.uniform(0.5, 1.5), agent_id)
            for call_id, (at, agent_id) in list(due.items()):
                if at <= now:
                    del due[call_id]
                    self.asked[call_id] = now
                    self.bus.publish(CallHangupRequested(call_id=call_id, agent_id=agent_id))

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def create_database(server: str) -> str:
    admin = create_engine(make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"cc_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return url


def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def build_floor(database: Database, args: argparse.Namespace, phones: str) -> list[int]:
    leads = int(args.duration * max(10, args.agents) * 2)
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(
            session,
            teams=[team],
            dial_mode=DialMode(args.mode),
            calling_windows=ALWAYS_OPEN,
            ring_timeout_seconds=15,
            trunk=TRUNK_NAME,
            max_attempts=1,
        )
        for _ in range(leads):
            make_lead(session, campaign)
        agent_ids = [make_user(session, Role.AGENT, team=team).id for _ in range(args.agents)]
        campaign_id = campaign.id
    for number, agent_id in enumerate(agent_ids, start=1):
        with database.unit_of_work() as session:
            agents.join_campaign(session, agent_id, campaign_id, f"sip:{1000 + number}@{phones}")
            agents.go_ready(session, agent_id)
    print(f"  {leads} leads, {args.agents} agents, {args.mode}")
    return agent_ids


def start_sipp(ns: Netns, scenario: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("sipp")
    if binary is None:
        raise SystemExit("sipp is not installed (Debian package sip-tester)")
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        binary, "-sf", str(SCENARIOS / scenario), "-i", ns.peer_address, "-p", str(port),
        "-mi", ns.peer_address, "-mp", str(port + 1000), "-rtp_echo", "-nostdin",
        "-max_socket", "4096", "-trace_err",
    ]  # fmt: skip
    return ns.popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class Samples:
    dialogs: list[int] = field(default_factory=list)


def sample_dialogs(database: Database, samples: Samples, halt: threading.Event) -> None:
    while not halt.wait(2.0):
        with database.sessions() as session:
            up = session.scalar(select(func.count(Call.id)).where(Call.state != CallState.ENDED))
        samples.dialogs.append(int(up or 0))


def report(database: Database, args: argparse.Namespace, cpu_s: float, samples: Samples) -> None:
    with database.sessions() as session:
        rows = session.execute(select(Call.outcome, func.count(Call.id)).group_by(Call.outcome))
        outcomes = {str(outcome.value if outcome else "open"): count for outcome, count in rows}
    attempts = sum(outcomes.values())
    live = sum(outcomes.get(o.value, 0) for o in (CallOutcome.ANSWERED, CallOutcome.ABANDONED))
    abandoned = outcomes.get(CallOutcome.ABANDONED.value, 0)
    print("\nresults")
    print(f"  attempts            {attempts} in {args.duration:.0f} s = "
          f"{attempts / args.duration:.2f}/s")  # fmt: skip
    print(f"  outcomes            {outcomes}")
    print(f"  abandons            {abandoned} of {live} live answers "
          f"({100 * abandoned / max(1, live):.2f}%)")  # fmt: skip
    if samples.dialogs:
        mean = sum(samples.dialogs) / len(samples.dialogs)
        print(f"  dialogs up          mean {mean:.1f}, max {max(samples.dialogs)} "
              f"(customer calls; agent legs add {args.agents})")  # fmt: skip
    print(f"  dialer CPU          {cpu_s:.1f} s = {100 * cpu_s / args.duration:.1f}% of a core, "
          f"{1000 * cpu_s / max(1, attempts):.1f} ms per attempt")  # fmt: skip


def main() -> None:
    args = parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-sip-network-"))
    workdir.mkdir(parents=True, exist_ok=True)
    redis_url = f"{args.redis}/{args.redis_db}"
    redis.Redis.from_url(redis_url).flushdb()
    url = create_database(args.postgres)
    database = Database(url)
    ns = Netns.create(args.subnet, prefix="ccb")
    processes: list[Process] = []
    print(f"bench: trunk and phones at {ns.peer_address}, dialer here; logs in {workdir}")
    try:
        start_sipp(ns, "uas_trunk_mixed.xml", TRUNK_PORT, workdir / "trunk")
        start_sipp(ns, "uas_agent_phone.xml", PHONES_PORT, workdir / "phones")
        build_floor(database, args, f"{ns.peer_address}:{PHONES_PORT}")
        env = environment(url, redis_url, workdir / "instance", dialer__trunk_name=TRUNK_NAME)
        consume = [sys.executable, "-m", "callcenter.cli", "consume"]
        processes.append(start_process("consume", consume, env, workdir))
        trunk_uri = f"sip:{ns.peer_address}:{TRUNK_PORT}"
        dialer_cmd = [sys.executable, "-m", "callcenter.cli", "dialer", "--carrier", "sip",
                      "--trunk-uri", trunk_uri]  # fmt: skip
        dialer = start_process("dialer", dialer_cmd, env, workdir)
        processes.append(dialer)
        talking, finishing = (
            AgentsTalking(database, redis_url, args.talk),
            AgentsFinishing(database),
        )
        talking.start()
        finishing.start()
        halt, samples = threading.Event(), Samples()
        sampler = threading.Thread(target=sample_dialogs, args=(database, samples, halt))
        sampler.start()
        cpu = psutil.Process(dialer.popen.pid)
        time.sleep(2)  # its start-up (imports, recovery) is not the cost of calls
        before = cpu.cpu_times()
        time.sleep(args.duration)
        after = cpu.cpu_times()
        cpu_s = (after.user - before.user) + (after.system - before.system)
        halt.set()
        sampler.join()
        print(f"  dialer stopped: exit {dialer.stop(60)}")
        time.sleep(5)
        talking.stop()
        finishing.stop()
        report(database, args, cpu_s, samples)
        tail = [line for line in dialer.lines if "Traceback" in line or "ERROR" in line]
        print(f"  dialer errors       {len(tail)} lines" + (f": {tail[:3]}" if tail else ""))
    finally:
        for process in reversed(processes):
            if process.alive():
                process.stop(60)
        ns.close()
        database.dispose()
        drop_database(url)


if __name__ == "__main__":
    main()
