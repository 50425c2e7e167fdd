"""A busy hour on the floor, driven through the real services: the dialer's
call.* events are published on the app's bus (the call services apply them,
the live floor counts them), and the agents' side (script steps, booking,
disposition, pauses) goes through the agents / workstation / appointments /
dispositions services, each in its own unit of work.

A seeded discrete-event loop: calls overlap, agents are picked longest idle
first, answers with no free agent within 2 s are abandoned."""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from callcenter.bus import InProcessEventBus
from callcenter.db import Database
from callcenter.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallRinging,
    Event,
)
from callcenter.models import Call, MeetingKind, PauseReason
from callcenter.services import agents, appointments, dispositions, workstation
from callcenter.states import Role
from tests.factories import make_campaign, make_customer, make_lead, make_team, make_user

PAUSE_REASON = "break"
CUSTOMERS = [
    ("Mr", "Hamid", "Tehrani"), ("Ms", "Leila", "Sadeghi"), ("Mr", "Kaveh", "Nikpour"),
    ("Ms", "Shirin", "Bagheri"), ("Mr", "Arash", "Mohammadi"), ("Ms", "Parisa", "Rahimi"),
    ("Mr", "Babak", "Zand"), ("Ms", "Nazanin", "Farahani"), ("Mr", "Dariush", "Kamali"),
    ("Ms", "Mina", "Ghasemi"), ("Mr", "Farhad", "Soltani"), ("Ms", "Roya", "Shams"),
]  # fmt: skip


@dataclass
class Floor:
    campaign_id: int
    other_campaign_id: int
    agent_ids: list[int]
    other_agent_ids: list[int]
    supervisor: str
    other_supervisor: str
    pause_reason: str = PAUSE_REASON


def build_floor(database: Database, *, agents_count: int = 6, leads: int = 120) -> Floor:
    """Two teams, each on its own campaign, with a supervisor each."""
    with database.unit_of_work() as session:
        session.merge(
            PauseReason(code=PAUSE_REASON, label_fa="استراحت", label_en="Break", limit_minutes=1)
        )
        team, other_team = make_team(session), make_team(session)
        campaign = make_campaign(session, name=f"Floor {uuid.uuid4().hex[:6]}")
        other = make_campaign(session, name=f"Other {uuid.uuid4().hex[:6]}")
        campaign.teams = [team]
        other.teams = [other_team]
        supervisor = make_user(session, Role.SUPERVISOR)
        other_supervisor = make_user(session, Role.SUPERVISOR)
        supervisor.supervised = [team]
        other_supervisor.supervised = [other_team]
        agent_ids = [
            make_user(session, Role.AGENT, team=team, full_name=f"Agent {n + 1}").id
            for n in range(agents_count)
        ]
        other_agents = [make_user(session, Role.AGENT, team=other_team).id]
        for number in range(leads):
            title, first, last = CUSTOMERS[number % len(CUSTOMERS)]
            customer = make_customer(session, title=title, first_name=first, last_name=last)
            make_lead(session, campaign, customer)
        for _ in range(5):
            make_lead(session, other)
        session.flush()
        return Floor(
            campaign.id,
            other.id,
            agent_ids,
            other_agents,
            supervisor.username,
            other_supervisor.username,
        )


@dataclass
class BusyHour:
    """Runs the hour; `publish` puts an event on the bus and waits for it."""

    database: Database
    bus: InProcessEventBus
    floor: Floor
    start: datetime
    seed: int = 7
    calls: int = 80
    pace_seconds: float = 40.0
    on_step: Callable[[], None] | None = None
    # Answering machines: caught by detection (never call.answered), and the
    # share of the calls agents took that they mark as machines at wrap-up.
    detected_machines: bool = False
    machines_marked_by_agents: float = 0.0
    # The share of the calls that are customers ringing the campaign back
    # (answered at once, no ringing): not dials.
    inbound_share: float = 0.0
    rng: random.Random = field(init=False)
    _queue: list[tuple[datetime, int, str, dict[str, Any]]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _ready_since: dict[int, datetime] = field(default_factory=dict)
    _lead_ids: list[int] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def publish(self, event: Event) -> None:
        self.bus.publish(event)
        assert self.bus.wait_until_idle(30)

    def at(self, when: datetime, kind: str, **data: Any) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), kind, data))

    def run(self, stop_at: datetime | None = None) -> datetime:
        """Play the hour; with `stop_at`, stop there (calls still in progress,
        agents still logged in) as a floor in the middle of its day."""
        self._log_in_agents()
        with self.database.read_sessions() as session:
            from sqlalchemy import select

            from callcenter.models import Lead

            self._lead_ids = list(
                session.scalars(
                    select(Lead.id)
                    .where(Lead.campaign_id == self.floor.campaign_id)
                    .order_by(Lead.id)
                )
            )
        t = self.start + timedelta(seconds=5)
        for number in range(self.calls):
            self.at(t, "dial", lead_id=self._lead_ids[number])
            t += timedelta(seconds=self.rng.uniform(0.2, 2) * self.pace_seconds / 1.1)
        pauser = self.floor.agent_ids[-1]
        self.at(self.start + timedelta(minutes=12), "pause", agent_id=pauser)
        last = self.start
        while self._queue:
            when, _, kind, data = heapq.heappop(self._queue)
            if stop_at is not None and when > stop_at:
                return stop_at
            last = when
            getattr(self, f"_{kind}")(when, **data)
            if self.on_step is not None:
                self.on_step()
        self._log_out_agents(last + timedelta(seconds=30))
        return last + timedelta(seconds=30)

    # -- agents

    def _log_in_agents(self) -> None:
        for agent_id in self.floor.agent_ids:
            with self.database.unit_of_work() as session:
                agents.join_campaign(
                    session, agent_id, self.floor.campaign_id, f"sip:{agent_id}@pbx"
                )
                agents.go_ready(session, agent_id, now=self.start)
            self._ready_since[agent_id] = self.start

    def _log_out_agents(self, when: datetime) -> None:
        for agent_id in self.floor.agent_ids:
            with self.database.unit_of_work() as session:
                status = agents.status_of(session, agent_id)
                if status.state.value in ("ready", "paused", "wrap_up", "reserved"):
                    agents.change_state(session, agent_id, agents.AgentState.LOGGED_OUT, now=when)

    def _pause(self, when: datetime, agent_id: int) -> None:
        if agent_id not in self._ready_since:
            self.at(when + timedelta(seconds=20), "pause", agent_id=agent_id)
            return
        del self._ready_since[agent_id]
        with self.database.unit_of_work() as session:
            agents.pause(session, agent_id, self.floor.pause_reason, now=when)
        self.at(when + timedelta(minutes=4), "resume", agent_id=agent_id)

    def _resume(self, when: datetime, agent_id: int) -> None:
        with self.database.unit_of_work() as session:
            agents.go_ready(session, agent_id, now=when)
        self._ready_since[agent_id] = when

    # -- calls

    def _dial(self, when: datetime, lead_id: int) -> None:
        call_id = uuid.uuid4().hex
        inbound = bool(self.inbound_share) and self.rng.random() < self.inbound_share
        kind = "inbound" if inbound else "outbound"
        self.outcomes[kind] = self.outcomes.get(kind, 0) + 1
        self.publish(
            CallDialing(
                call_id=call_id,
                campaign_id=self.floor.campaign_id,
                lead_id=lead_id,
                attempt=1,
                occurred_at=when,
                direction=kind,
            )
        )
        if inbound:
            self.at(when + timedelta(seconds=0.2), "answer", call_id=call_id)
            return
        self.at(when + timedelta(seconds=self.rng.uniform(0.5, 3)), "ring", call_id=call_id)

    def _ring(self, when: datetime, call_id: str) -> None:
        self.publish(CallRinging(call_id=call_id, occurred_at=when))
        roll = self.rng.random()
        if roll < 0.25:
            self.at(when + timedelta(seconds=25), "end", call_id=call_id, outcome="no_answer")
        elif roll < 0.35:
            self.at(when + timedelta(seconds=1), "end", call_id=call_id, outcome="busy")
        elif roll < 0.45 and self.detected_machines:
            self.at(when + timedelta(seconds=6), "detected_machine", call_id=call_id)
        elif roll < 0.45:
            self.at(when + timedelta(seconds=4), "answer", call_id=call_id, machine=True)
        else:
            self.at(when + timedelta(seconds=self.rng.uniform(3, 12)), "answer", call_id=call_id)

    def _answer(self, when: datetime, call_id: str, machine: bool = False) -> None:
        self.publish(CallAnswered(call_id=call_id, occurred_at=when))
        if machine:
            self.at(when + timedelta(seconds=3), "end", call_id=call_id, outcome="machine")
            return
        if not self._ready_since:
            self.at(when + timedelta(seconds=2.0), "end", call_id=call_id, outcome="abandoned")
            return
        agent_id = min(self._ready_since, key=lambda a: self._ready_since[a])
        del self._ready_since[agent_id]
        wait = self.rng.choice((0.4, 0.8, 1.5, 1.9, 2.6))
        self.at(when + timedelta(seconds=wait), "connect", call_id=call_id, agent_id=agent_id)

    def _detected_machine(self, when: datetime, call_id: str) -> None:
        """Answered 2 s ago; detection said machine after 1.8 s and hung up."""
        self.outcomes["machine"] = self.outcomes.get("machine", 0) + 1
        self.publish(
            CallEnded(
                call_id=call_id,
                outcome="machine",
                answered_seconds=2.0,
                amd_result="machine",
                amd_decision_ms=1800,
                amd_action="hung_up",
                occurred_at=when,
            )
        )

    def _connect(self, when: datetime, call_id: str, agent_id: int) -> None:
        self.publish(CallConnected(call_id=call_id, agent_id=agent_id, occurred_at=when))
        talk = self.rng.uniform(30, 240)
        steps = self.rng.randint(0, 6)
        for n in range(steps):
            self.at(
                when + timedelta(seconds=talk * (n + 1) / (steps + 2)),
                "step",
                call_id=call_id,
                agent_id=agent_id,
            )
        book = steps >= 5 and self.rng.random() < 0.7
        self.at(
            when + timedelta(seconds=talk), "end", call_id=call_id, outcome="answered", book=book
        )

    def _step(self, when: datetime, call_id: str, agent_id: int) -> None:
        with self.database.unit_of_work() as session:
            workstation.move_step(session, agent_id, call_id, "next", now=when)

    def _end(self, when: datetime, call_id: str, outcome: str, book: bool = False) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if book:
            self._book(when - timedelta(seconds=5), call_id)
        self.publish(CallEnded(call_id=call_id, outcome=outcome, occurred_at=when))
        if outcome == "answered":
            wrap = self.rng.uniform(5, 45)
            self.at(when + timedelta(seconds=wrap), "wrap_up", call_id=call_id, booked=book)

    def _book(self, when: datetime, call_id: str) -> None:
        with self.database.unit_of_work() as session:
            call = session.get(Call, call_id)
            assert call is not None
            slots = appointments.propose(session, call, now=when)
            if slots:
                appointments.book(
                    session,
                    call,
                    starts_at=slots[0].start,
                    kind=MeetingKind.ONLINE,
                    link="https://meet.example/x",
                    now=when,
                )

    def _wrap_up(self, when: datetime, call_id: str, booked: bool) -> None:
        with self.database.unit_of_work() as session:
            call = session.get(Call, call_id)
            assert call is not None and call.agent_id is not None
            code = (
                "appointment_set"
                if appointments.booked_on_call(session, call_id)
                else "no_decision"
            )
            share = self.machines_marked_by_agents
            if code == "no_decision" and share and self.rng.random() < share:
                code = "answering_machine"
                self.outcomes["marked_machine"] = self.outcomes.get("marked_machine", 0) + 1
            dispositions.set_disposition(session, call.agent_id, call_id, code, now=when)
            agent_id = call.agent_id
        self._ready_since[agent_id] = when
