"""What one agent state change costs, where each process makes it: this
thread's CPU and the SQL statements of each change in a unit of work of its
own, as the web process (Ready, a pause, Ready again), the dialer (a ready
agent reserved for a call, then let go) and consume (the connect's move to
on_call and the end's to wrap_up, with their locked read) make them. Browser
pushes go to a Socket.IO server with no clients (the after-commit path runs).

    PYTHONPATH=. .venv/bin/python -m bench.agent_changes \
        [--rounds 300] [--postgres postgresql://postgres@127.0.0.1:5432] [--count-calls]

Between the kinds the agent's row is left as the next one needs it; a kind's
figures are the mean over the rounds (the first round, which fills the
compiled-statement caches, is left out). `--count-calls`: each change's
Python function calls too, which the machine's load does not move."""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import event

from bench.load_floor.floor_data import fresh_database
from callcenter import migrate
from callcenter.db import Database, utcnow
from callcenter.services import agents, calls
from callcenter.settings import load_settings
from callcenter.states import AgentState
from dialer.db_port import DatabaseServices
from tests.integration.agent.agent_floor import build_floor, new_lead


def run(url: str, rounds: int, count_calls: bool) -> None:
    from callcenter.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        migrate.upgrade(url)
        database = Database(url)
        settings = load_settings(environ={}, overrides={"env": "test", "instance_path": tmp})
        create_app(settings, database=database)  # the after-commit path's Socket.IO
        with database.sessions() as session:
            floor = build_floor(session, email=None)
            leads = [new_lead(session, floor) for _ in range(rounds + 1)]
        agent_id = floor.agent_id
        with database.unit_of_work() as session:
            agents.join_campaign(session, agent_id, floor.campaign_id, "sip:1001@pbx.local")
        port = DatabaseServices(database)
        statements = [0]

        def seen(*_args: object) -> None:
            statements[0] += 1

        event.listen(database.engine, "before_cursor_execute", seen)
        cpu: defaultdict[str, list[float]] = defaultdict(list)
        counted: defaultdict[str, list[int]] = defaultdict(list)
        python_calls: defaultdict[str, list[int]] = defaultdict(list)

        def measure(kind: str, work: Callable[..., object], *args: object, **kw: object) -> None:
            before, started = statements[0], time.thread_time()
            if count_calls:
                profile = cProfile.Profile()
                profile.runcall(work, *args, **kw)
                python_calls[kind].append(pstats.Stats(profile).total_calls)  # type: ignore[attr-defined]
            else:
                work(*args, **kw)
            cpu[kind].append(time.thread_time() - started)
            counted[kind].append(statements[0] - before)

        def in_unit(change: Callable[..., object], *args: object, **kwargs: object) -> None:
            with database.unit_of_work() as session:
                change(session, *args, **kwargs)

        def to_state(to: AgentState, call_id: str) -> None:
            with database.unit_of_work() as session:
                agents.status_of(session, agent_id, lock=True)
                agents.change_state(session, agent_id, to, call_id=call_id, now=utcnow())

        for number in range(rounds + 1):
            call_id = uuid.uuid4().hex
            with database.unit_of_work() as session:
                calls.open_call(
                    session,
                    call_id=call_id,
                    campaign_id=floor.campaign_id,
                    lead_id=leads[number],
                    attempt=1,
                    agent_id=None,
                    dialer_id=None,
                    at=utcnow(),
                )
            measure("web: ready", in_unit, agents.go_ready, agent_id)
            measure("web: pause", in_unit, agents.pause, agent_id, "break")
            measure("web: ready again", in_unit, agents.go_ready, agent_id)
            reserve = {"call_id": call_id, "now": utcnow(), "reason": "x"}
            measure("dialer: reserve", port.reserve_agent, agent_id, **reserve)
            measure("dialer: release", port.release_agent, agent_id, now=utcnow(), reason="y")
            port.reserve_agent(agent_id, **reserve)  # type: ignore[arg-type]
            measure("consume: on_call", to_state, AgentState.ON_CALL, call_id)
            measure("consume: wrap_up", to_state, AgentState.WRAP_UP, call_id)
            with database.unit_of_work() as session:
                agents.end_wrap_up(session, agent_id, call_id, auto_ready=False)
                agents.log_out(session, agent_id)
            if number == 0:
                cpu.clear()
                counted.clear()
                python_calls.clear()
        event.remove(database.engine, "before_cursor_execute", seen)
        for kind, spent in cpu.items():
            python = ""
            if count_calls:
                python = f"  {statistics.fmean(python_calls[kind]):6.0f} Python calls"
            print(
                f"{kind:20} {statistics.fmean(spent) * 1000:6.3f} ms CPU  "
                f"{statistics.fmean(counted[kind]):4.1f} statements{python}"
            )
        total = sum(statistics.fmean(spent) for spent in cpu.values())
        print(f"{'all seven':20} {total * 1000:6.3f} ms CPU")
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--postgres", default="", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument(
        "--count-calls",
        action="store_true",
        help="each change's Python function calls (cProfile, whose cost is then in the CPU)",
    )
    args = parser.parse_args()
    if args.postgres:
        with fresh_database(args.postgres) as url:
            run(url, args.rounds, args.count_calls)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.rounds, args.count_calls)


if __name__ == "__main__":
    main()
