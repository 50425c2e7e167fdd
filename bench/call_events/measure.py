"""CPU and SQL statements it costs to apply one call attempt's events, the
way a `callcenter consume` process (or a web process in the consumer group)
applies them: `CallEventConsumer` on each event, one unit of work each, the
after-commit path included (browser pushes go to a Socket.IO server with no
clients, bus events to the in-process bus).

    PYTHONPATH=. .venv/bin/python -m bench.call_events.measure \
        [--attempts 400] [--postgres postgresql://postgres@127.0.0.1:5432] [--profile FILE]
        [--count-calls] [--notes] [--database-prefix cc_load]

Two kinds of attempt, as a floor has them: unanswered (dialing, ringing,
ended no-answer) and answered (dialing, ringing, answered, connected to a
ready agent, ended). Between answered attempts the agent is put back to
ready, outside the measurement. Prints this process's CPU per attempt and
per event and the SQL statements per attempt, for 3 rounds, with `--count-calls`
the Python function calls of the agent's socket events (cProfile, whose own
cost is then in their CPU figures). PostgreSQL's own
CPU is not in these figures.

An answered call's agent also works the call through the workstation's
Socket.IO events, as a web process serves them (a Socket.IO test client in
this process, logged in as the agent): four `script_move` while the call is
up and `disposition_set` after it ends (with `--notes` carrying the note
typed, as the load floor's agents send it); their CPU and statements are
"the agent's socket events" (per answered attempt)."""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event, select

from bench.load_floor.floor_data import fresh_database
from callcenter import migrate
from callcenter.consumers import CallEventConsumer
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
from callcenter.services import agents, lead_lifecycle
from callcenter.settings import load_settings
from callcenter.states import AgentState
from dialer.db_port import DatabaseServices
from dialer.ports import ClaimedLead
from tests.factories import log_in
from tests.integration.agent.agent_floor import Floor, build_floor, new_lead


class Statements:
    def __init__(self, database: Database) -> None:
        self.count = 0
        event.listen(database.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1


def tally(
    spent: defaultdict[str, float], counted: Counter[str], statements: Statements
) -> Callable[[str], AbstractContextManager[None]]:
    """`with spent_on(part):` adds the block's CPU (this process) and statements to `part`."""

    @contextmanager
    def spent_on(part: str) -> Iterator[None]:
        before_cpu, before_sql = time.process_time(), statements.count
        yield
        spent[part] += time.process_time() - before_cpu
        counted[part] += statements.count - before_sql

    return spent_on


def unanswered(floor: Floor, call_id: str, lead_id: int) -> list[Event]:
    return [
        CallDialing(call_id=call_id, campaign_id=floor.campaign_id, lead_id=lead_id, attempt=1),
        CallRinging(call_id=call_id),
        CallEnded(call_id=call_id, outcome="no_answer", sip_status=487),
    ]


def answered(floor: Floor, call_id: str, lead_id: int) -> list[Event]:
    return [
        CallDialing(call_id=call_id, campaign_id=floor.campaign_id, lead_id=lead_id, attempt=1),
        CallRinging(call_id=call_id),
        CallAnswered(call_id=call_id),
        CallConnected(call_id=call_id, agent_id=floor.agent_id),
    ]


def hung_up(floor: Floor, call_id: str) -> CallEnded:
    """As the dialer publishes the end of a connected call: with its agent."""
    return CallEnded(
        call_id=call_id,
        outcome="answered",
        sip_status=200,
        agent_id=floor.agent_id,
        talk_seconds=30,
    )


SCRIPT_MOVES = 4


def work_the_call(socket: Any, call_id: str) -> None:
    """The agent's screen while the call is up: through the script."""
    for _ in range(SCRIPT_MOVES):
        _acknowledged(socket, "script_move", {"call_id": call_id, "kind": "next"})


def wrap_up(socket: Any, call_id: str) -> None:
    _acknowledged(socket, "disposition_set", {"call_id": call_id, "code": "no_decision"})


def wrap_up_with_notes(socket: Any, call_id: str) -> None:
    """As the load floor's agents (and the screen) send it: with the note typed."""
    data = {"call_id": call_id, "code": "no_decision", "notes": "thinking about it"}
    _acknowledged(socket, "disposition_set", data)


def _acknowledged(socket: Any, name: str, data: dict[str, Any]) -> None:
    answer = socket.emit(name, data, callback=True)
    if not (isinstance(answer, dict) and answer.get("ok")):
        raise RuntimeError(f"{name} refused: {answer}")


def dialer_writes(
    port: DatabaseServices, floor: Floor, call_id: str, lead_id: int, phone: str
) -> None:
    """What the dialer writes before it dials: the lead's claim, then the call's row."""
    now = utcnow()
    attempt = lead_lifecycle.claim_counting_dnc(
        port.database, lead_id, now=now, campaign_id=floor.campaign_id
    )
    claimed = ClaimedLead(lead_id, floor.campaign_id, attempt, phone)
    port.open_call(call_id, claimed, agent_id=None, now=now)


def run(
    url: str, attempts: int, profile: str | None, count_calls: bool = False, notes: bool = False
) -> None:
    from callcenter.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        migrate.upgrade(url)
        database = Database(url)
        settings = load_settings(environ={}, overrides={"env": "test", "instance_path": tmp})
        app = create_app(settings, database=database)  # also the after-commit path's Socket.IO
        with database.sessions() as session:
            floor = build_floor(session, email=None)
            created = [new_lead(session, floor) for _ in range(attempts * 3)]
            phone_of = select(Lead.id, Customer.phone_e164).join(
                Customer, Customer.id == Lead.customer_id
            )
            phones = {lead_id: phone for lead_id, phone in session.execute(phone_of)}
            leads = [(lead_id, phones[lead_id]) for lead_id in created]
        with database.unit_of_work() as session:
            agents.join_campaign(session, floor.agent_id, floor.campaign_id, "sip:1001@pbx.local")
            agents.go_ready(session, floor.agent_id)
        socket = agent_screen(app, floor)
        consumer = CallEventConsumer(database)
        port = DatabaseServices(database)
        statements = Statements(database)
        profiler = cProfile.Profile(time.process_time) if profile else None
        # the agent's socket events alone: their Python function calls, which load does not move
        agent_calls = cProfile.Profile() if count_calls else None

        def agent_part(work: Callable[[Any, str], None], call_id: str) -> None:
            if agent_calls is None:
                work(socket, call_id)
            else:
                agent_calls.runcall(work, socket, call_id)

        for round_number in range(3):
            spent: defaultdict[str, float] = defaultdict(float)
            counted: Counter[str] = Counter()

            spent_on = tally(spent, counted, statements)

            for number in range(attempts):
                (lead_id, phone), call_id = leads.pop(), uuid.uuid4().hex
                kind = "answered" if number % 3 == 0 else "unanswered"
                events = (answered if kind == "answered" else unanswered)(floor, call_id, lead_id)
                with spent_on("dialer"):
                    dialer_writes(port, floor, call_id, lead_id, phone)
                if profiler:
                    profiler.enable()
                with spent_on(kind):
                    for item in events:
                        consumer(item)
                if kind == "answered":
                    with spent_on("agent"):
                        agent_part(work_the_call, call_id)
                    with spent_on(kind):
                        consumer(hung_up(floor, call_id))
                    with spent_on("agent"):
                        agent_part(wrap_up_with_notes if notes else wrap_up, call_id)
                    back_to_ready(database, floor)
                if profiler:
                    profiler.disable()
                counted[f"{kind} n"] += 1
            report(round_number, spent, counted, attempts)
        if agent_calls is not None:
            answered_n = len(range(0, attempts, 3)) * 3
            calls = pstats.Stats(agent_calls).total_calls  # type: ignore[attr-defined]
            print(
                f"the agent's socket events: {calls / answered_n:.0f} Python calls/answered attempt"
            )
        if profiler and profile:
            profiler.dump_stats(profile)
            print(f"profile written to {profile}")
        database.dispose()


def agent_screen(app: Flask, floor: Floor) -> Any:
    from callcenter.extensions import socketio

    app.config["WTF_CSRF_ENABLED"] = False  # a form post from a test client, not a browser
    client = app.test_client()
    log_in(client, floor.agent_username)
    socket = socketio.test_client(app, flask_test_client=client)
    if not socket.is_connected():
        raise RuntimeError("the agent's socket was refused")
    return socket


def back_to_ready(database: Database, floor: Floor) -> None:
    with database.unit_of_work() as session:
        if agents.status_of(session, floor.agent_id).state is not AgentState.READY:
            agents.go_ready(session, floor.agent_id)


def report(
    round_number: int, spent: defaultdict[str, float], counted: Counter[str], attempts: int
) -> None:
    parts = [
        f"dialer's writes {spent['dialer'] * 1000 / attempts:.2f} ms/attempt, "
        f"{counted['dialer'] / attempts:.1f} statements"
    ]
    for kind, per_attempt in (("unanswered", 3), ("answered", 5)):
        n = counted[f"{kind} n"] or 1
        ms = spent[kind] * 1000 / n
        parts.append(
            f"{kind} events {ms:.2f} ms/attempt ({ms / per_attempt:.2f} ms/event), "
            f"{counted[kind] / n:.1f} statements"
        )
    n = counted["answered n"] or 1
    ms = spent["agent"] * 1000 / n
    parts.append(
        f"the agent's socket events {ms:.2f} ms/answered attempt "
        f"({ms / (SCRIPT_MOVES + 1):.2f} ms/event), {counted['agent'] / n:.1f} statements"
    )
    print(f"round {round_number + 1}: " + "; ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=400)
    parser.add_argument("--postgres", default="", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument("--profile", default="", help="write a cProfile of the events here")
    parser.add_argument(
        "--count-calls", action="store_true", help="the agent's socket events' Python calls"
    )
    parser.add_argument(
        "--notes", action="store_true", help="the disposition carries the agent's note"
    )
    parser.add_argument("--database-prefix", default="cc_load", help="the new database's prefix")
    args = parser.parse_args()
    if args.postgres:
        with fresh_database(args.postgres, prefix=args.database_prefix) as url:
            run(url, args.attempts, args.profile or None, args.count_calls, args.notes)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(
                f"sqlite:///{Path(tmp) / 'bench.db'}",
                args.attempts,
                args.profile or None,
                args.count_calls,
                args.notes,
            )


if __name__ == "__main__":
    main()
