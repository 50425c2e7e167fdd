"""Issue 9, a fault to survive: the SIP trunk stops answering. Dialing holds
on it with the reason on the supervisors' live floor, the calls it had up end
with a clear outcome, and dialing resumes (and the floor says so) once the
trunk answers again.

All real processes: sipp is the trunk (it answers OPTIONS keepalives and
calls) and a second sipp the agents' phones; `callcenter dialer --carrier
sip` places the calls; gunicorn serves the web, which consumes the events
(the calls rows, the live floor) from Redis; a supervisor is logged in to the
floor over Socket.IO; the database is PostgreSQL. The trunk stops answering
in two ways: it hangs (SIGSTOP: requests go in, nothing comes back; SIGCONT
resumes it) or it dies (killed: the host says port unreachable) and is
started again on the same port, with no memory of the calls it had."""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from callcenter.bus_redis import STREAM, RedisStreamsEventBus
from callcenter.db import Database
from callcenter.events import CallHangupRequested
from callcenter.models import AgentStatus, Call, DialMode
from callcenter.services import agents
from callcenter.states import AgentState, CallOutcome, CallState, Role
from tests.factories import make_campaign, make_lead, make_team, make_user
from tests.integration.dialer.floor import ALWAYS_OPEN, AgentsFinishing
from tests.integration.dialer.topology import (
    Process,
    SupervisorFeed,
    environment,
    run_cli,
    start_dialer,
    start_sipp_peer,
    start_web,
)
from tests.integration.sip.conftest import HOST, Sipp
from tests.support import wait_until as wait_for

pytestmark = [pytest.mark.sipp, pytest.mark.redis, pytest.mark.postgres]

SCENARIOS = Path(__file__).parent / "scenarios"
AGENTS = 2
LEADS = 40
RING_TIMEOUT_S = 6
TRUNK_NAME = "sipp-trunk"
DIALER_SETTINGS = {
    "dialer__trunk_name": TRUNK_NAME,
    "dialer__sip__keepalive_seconds": "0.5",
    # A request the trunk leaves unanswered fails after 64 x T1 = 3.2 s: the
    # hold (an OPTIONS unanswered) and the end of the calls in flight (INVITE
    # and BYE unanswered) each wait that long; a trunk that answers answers
    # on this host within milliseconds.
    "dialer__sip__t1_seconds": "0.05",
}
TICK_S = 0.2
# How long the test watches the held dialer (agents ready, leads waiting) place nothing.
HELD_WATCH_S = 3.0
# How an unanswered call ends while the trunk is silent.
SILENT_TRUNK_OUTCOMES = {
    CallOutcome.FAILED,  # INVITE never answered (Timer B)
    CallOutcome.NO_ANSWER,  # rang, then the CANCEL went unanswered
    CallOutcome.ANSWERED,  # up with an agent, who hung up (our BYE unanswered)
    CallOutcome.ABANDONED,  # answered, no agent in time, message played, BYE unanswered
}


class Trunk:
    """The sipp trunk, and the fault that silences it."""

    def __init__(self, fault: str, workdir: Path) -> None:
        self.fault = fault
        self.workdir = workdir
        self.peer = self._start(port=None)

    def _start(self, port: int | None) -> Sipp:
        name = f"trunk-{len(list(self.workdir.glob('trunk-*')))}"
        return start_sipp_peer(
            SCENARIOS / "uas_trunk_keepalive.xml", self.workdir / name, port=port
        )

    @property
    def uri(self) -> str:
        return self.peer.uri

    def stop_answering(self) -> None:
        if self.fault == "hung":
            self.peer.process.send_signal(signal.SIGSTOP)
        else:
            self.peer.process.kill()
            self.peer.process.wait()

    def answer_again(self) -> None:
        if self.fault == "hung":
            self.peer.process.send_signal(signal.SIGCONT)
        else:
            self.peer = self._start(port=self.peer.port)

    def close(self) -> None:
        if self.peer.process.poll() is None:
            self.peer.process.send_signal(signal.SIGCONT)
            self.peer.process.kill()
        self.peer.process.wait()


@dataclass(frozen=True)
class Site:
    campaign_id: int
    agent_ids: list[int]
    supervisor: str


def build_site(database: Database, phones: Sipp) -> Site:
    """A progressive campaign open around the clock, its leads, ready agents
    whose phones are the sipp `phones`, and the team's supervisor."""
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(
            session,
            teams=[team],
            dial_mode=DialMode.PROGRESSIVE,
            calling_windows=ALWAYS_OPEN,
            ring_timeout_seconds=RING_TIMEOUT_S,
            trunk=TRUNK_NAME,
        )
        for _ in range(LEADS):
            make_lead(session, campaign)
        supervisor = make_user(session, Role.SUPERVISOR)
        supervisor.supervised = [team]
        agent_ids = [make_user(session, Role.AGENT, team=team).id for _ in range(AGENTS)]
        site = Site(campaign.id, agent_ids, supervisor.username)
    for number, agent_id in enumerate(agent_ids, start=1):
        with database.unit_of_work() as session:
            phone = f"sip:100{number}@{HOST}:{phones.port}"
            agents.join_campaign(session, agent_id, site.campaign_id, phone)
            agents.go_ready(session, agent_id)
    return site


class AgentsHangingUp(threading.Thread):
    """Each agent presses hang-up once their call is connected (unless told to
    keep talking): the request goes to the dialer over the Redis bus, as the
    agent screen sends it."""

    def __init__(self, database: Database, redis_url: str) -> None:
        super().__init__(name="agents-hanging-up", daemon=True)
        self.database = database
        self.bus = RedisStreamsEventBus(redis_url)
        self.asked: set[str] = set()
        self.talking = threading.Event()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.2):
            if self.talking.is_set():
                continue
            with self.database.sessions() as session:
                connected = session.execute(
                    select(Call.id, Call.agent_id).where(
                        Call.connected_at.is_not(None), Call.state != CallState.ENDED
                    )
                ).all()
            for call_id, agent_id in connected:
                if call_id not in self.asked and agent_id is not None:
                    self.asked.add(call_id)
                    self.bus.publish(CallHangupRequested(call_id=call_id, agent_id=agent_id))

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def calls_by_state(database: Database) -> tuple[int, set[str]]:
    """How many calls were placed, and the ids of those not ended yet."""
    with database.sessions() as session:
        placed = session.scalar(select(func.count(Call.id))) or 0
        open_ids = set(session.scalars(select(Call.id).where(Call.state != CallState.ENDED)))
    return placed, open_ids


def connected_calls(database: Database) -> set[str]:
    with database.sessions() as session:
        return set(
            session.scalars(
                select(Call.id).where(Call.connected_at.is_not(None), Call.state != CallState.ENDED)
            )
        )


def ended_calls(database: Database) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count(Call.id)).where(Call.state == CallState.ENDED)) or 0


def all_ready(database: Database, agent_ids: list[int]) -> bool:
    with database.sessions() as session:
        states = session.scalars(
            select(AgentStatus.state).where(AgentStatus.agent_id.in_(agent_ids))
        ).all()
    return len(states) == len(agent_ids) and all(s is AgentState.READY for s in states)


def stream_events(redis_url: str) -> list[dict[str, Any]]:
    """Every event on the bus, in the order it was published."""
    client: Any = redis.Redis.from_url(redis_url)  # sync client; redis-py types it both ways
    try:
        return [
            {"type": fields[b"type"].decode(), **json.loads(fields[b"data"])}
            for _id, fields in client.xrange(STREAM)
        ]
    finally:
        client.close()


@pytest.mark.parametrize("fault", ["hung", "restarted"])
def test_dialing_holds_while_the_trunk_is_silent_and_resumes_when_it_answers(
    fault: str, postgres_database: Database, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    database = postgres_database
    trunk = Trunk(fault, tmp_path)
    phones = start_sipp_peer(SCENARIOS / "uas_agent_phone.xml", tmp_path / "phones", "-rtp_echo")
    site = build_site(database, phones)
    env = environment(postgres_url, redis_url, tmp_path / "instance", **DIALER_SETTINGS)
    processes: list[Process] = []
    hanging_up, finishing = AgentsHangingUp(database, redis_url), AgentsFinishing(database)
    supervisor: SupervisorFeed | None = None
    try:
        web, base_url = start_web(env, tmp_path)
        processes.append(web)
        dialer = start_dialer(
            env, tmp_path, "--carrier", "sip", "--trunk-uri", trunk.uri, "--tick", str(TICK_S)
        )
        processes.append(dialer)
        supervisor = SupervisorFeed(base_url, site.supervisor)
        hanging_up.start()
        finishing.start()

        # The trunk answers: calls are placed, talked and ended.
        wait_for(lambda: ended_calls(database) >= 3, 90, "three calls ended over the trunk")
        assert supervisor.dialing_held(site.campaign_id) is None
        (shown,) = supervisor.trunks(site.campaign_id)
        assert (shown["trunk"], shown["healthy"], shown["options"]) == (
            TRUNK_NAME,
            True,
            "answered",
        ), shown
        assert shown["options_rtt_ms"] is not None and shown["registration"] == "off", shown
        status = run_cli(env, tmp_path, "trunk", "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert f"trunk {TRUNK_NAME}: dialer " in status.stdout, status.stdout
        assert "OPTIONS:      answered: 200 OK, RTT " in status.stdout, status.stdout

        # The trunk stops answering while an agent talks to a customer.
        hanging_up.talking.set()
        wait_for(lambda: bool(connected_calls(database)), 30, "an agent on a call")
        trunk.stop_answering()
        _, in_flight = calls_by_state(database)
        hanging_up.talking.clear()

        wait_for(
            lambda: supervisor.dialing_held(site.campaign_id) is not None,
            60,
            "the supervisor's floor to say dialing is held",
        )
        held = supervisor.dialing_held(site.campaign_id)
        assert held is not None and held.startswith(f"{TRUNK_NAME}: "), held
        assert "OPTIONS keepalive" in held or "did not answer" in held, held
        # Pushed to the open page too, not only in the snapshots it loads.
        wait_for(lambda: held in supervisor.held_pushes, 10, "the held reason pushed to the page")
        wait_for(
            lambda: not supervisor.trunks(site.campaign_id)[0]["healthy"],
            15,
            "the floor's trunk row to say held",
        )
        status = run_cli(env, tmp_path, "trunk", "status")
        assert status.returncode == 1, status.stdout + status.stderr
        assert "state:        HELD (" in status.stdout, status.stdout

        # Everything in flight ends while the trunk is still silent; agents get ready again.
        wait_for(lambda: not calls_by_state(database)[1], 60, "the calls in flight to end")
        wait_for(lambda: all_ready(database, site.agent_ids), 30, "the agents to be ready")
        placed, _ = calls_by_state(database)
        watch_until = time.monotonic() + HELD_WATCH_S
        while time.monotonic() < watch_until:
            assert calls_by_state(database)[0] == placed, "a call was placed on a silent trunk"
            assert dialer.alive(), dialer.output
            time.sleep(TICK_S)
        assert supervisor.dialing_held(site.campaign_id) == held

        # The trunk answers again: the floor says so and dialing resumes.
        trunk.answer_again()
        wait_for(
            lambda: supervisor.dialing_held(site.campaign_id) is None,
            60,
            "the supervisor's floor to say dialing resumed",
        )
        wait_for(lambda: supervisor.held_pushes[-1] is None, 10, "dialing resumed pushed")
        wait_for(
            lambda: ended_calls(database) >= placed + 3,
            90,
            "three new calls placed and ended after the trunk came back",
        )
        assert dialer.alive(), dialer.output

        # Stopped, the dialer hangs up what it has up; the web records those ends too.
        assert dialer.stop() == 0, dialer.output
        wait_for(lambda: not calls_by_state(database)[1], 30, "every call recorded as ended")
    finally:
        if supervisor is not None:
            supervisor.close()
        hanging_up.stop()
        finishing.stop()
        for process in reversed(processes):
            process.stop()
        trunk.close()
        phones.process.kill()
        phones.process.wait()

    assert "Traceback" not in dialer.output, dialer.output
    assert "dialing held" in dialer.output and "dialing resumed" in dialer.output

    events = stream_events(redis_url)
    said = [(n, e) for n, e in enumerate(events) if e["type"] == "dialer.dialing_held"]
    # A held trunk is said again at each hopper refill (for a floor rebuilt
    # meanwhile): the changes are what count here.
    holds = [
        (n, e) for i, (n, e) in enumerate(said) if i == 0 or said[i - 1][1]["held"] != e["held"]
    ]
    # A starting dialer first says its trunk dials (clearing what an earlier one left).
    assert [e["held"] for _, e in holds] == [False, True, False], holds
    _, (held_at, held_event), (resumed_at, _) = holds
    assert held_event["reason"] in held
    dialed = [n for n, e in enumerate(events) if e["type"] == "call.dialing"]
    assert not [n for n in dialed if held_at < n < resumed_at], "dialed while held"
    assert [n for n in dialed if n > resumed_at], "no call dialed after the trunk came back"

    ended_at = {e["call_id"]: n for n, e in enumerate(events) if e["type"] == "call.ended"}
    in_flight |= {e["call_id"] for e in events[:held_at] if e["type"] == "call.dialing"} - {
        call_id for call_id, n in ended_at.items() if n < held_at
    }
    with database.sessions() as session:
        calls = {call.id: call for call in session.scalars(select(Call))}
    for call_id in in_flight:
        call = calls[call_id]
        assert call.state is CallState.ENDED and call.outcome in SILENT_TRUNK_OUTCOMES, (
            call_id, call.outcome, call.sip_reason,
        )  # fmt: skip
        assert call.sip_reason, call_id
        assert ended_at[call_id] < resumed_at, (
            f"call {call_id} ended only after the trunk came back"
        )
    assert CallOutcome.ANSWERED in {calls[call_id].outcome for call_id in in_flight}
    assert all(call.state is CallState.ENDED and call.outcome for call in calls.values())
