"""A small call floor for dialer tests: a campaign open around the clock,
leads, agents made ready through the agents service, the calls service
consuming the bus, and a stand-in for agents finishing their calls."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from callcenter.bus import InProcessEventBus
from callcenter.calling_windows import WEEKDAYS
from callcenter.consumers import CALL_EVENTS, CallEventConsumer
from callcenter.db import Database
from callcenter.errors import DomainError
from callcenter.models import AgentStatus, Call, Lead
from callcenter.services import agents, dispositions
from callcenter.states import AgentState, CallState, LeadState, Role
from dialer.agent_pool import InProcessAgentPool
from dialer.call_rate import CallRate
from dialer.carrier import Carrier
from dialer.db_port import DatabaseServices
from dialer.hopper import MemoryHopper
from dialer.leads import HopperLeadSource
from dialer.worker import DialerWorker, WorkerConfig
from tests.factories import make_campaign, make_lead, make_team, make_user

ALWAYS_OPEN = {"weekly": {day: [{"start": "00:00", "end": "24:00"}] for day in WEEKDAYS}}


@dataclass
class Floor:
    database: Database
    bus: InProcessEventBus
    campaign_id: int
    agent_ids: list[int]
    lead_ids: list[int]
    published: list[Any] = field(default_factory=list)

    def worker(
        self, carrier: Carrier, *, call_rate: CallRate | None = None, **config: Any
    ) -> DialerWorker:
        return DialerWorker(
            services=DatabaseServices(self.database),
            leads=HopperLeadSource(self.database, MemoryHopper()),
            carrier=carrier,
            bus=self.bus,
            pool=InProcessAgentPool(),
            config=WorkerConfig(**config),
            call_rate=call_rate,
        )

    def rows(self) -> tuple[list[Call], list[Lead]]:
        with self.database.sessions() as session:
            calls = list(session.scalars(select(Call).order_by(Call.dialed_at)))
            leads = list(session.scalars(select(Lead).order_by(Lead.id)))
            session.expunge_all()
        return calls, leads

    def settled(self) -> bool:
        """No lead left to dial or in an attempt, no call open, nobody on a call."""
        with self.database.sessions() as session:
            open_leads = session.scalar(
                select(func.count(Lead.id)).where(
                    Lead.state.in_([LeadState.NEW, LeadState.DIALING])
                )
            )
            open_calls = session.scalar(
                select(func.count(Call.id)).where(Call.state != CallState.ENDED)
            )
            busy = session.scalar(
                select(func.count(AgentStatus.agent_id)).where(
                    AgentStatus.state.in_([AgentState.ON_CALL, AgentState.WRAP_UP])
                )
            )
        return open_leads == 0 and open_calls == 0 and busy == 0


def build_floor(
    database: Database, *, agents_count: int, leads_count: int, **campaign: Any
) -> Floor:
    campaign.setdefault("calling_windows", ALWAYS_OPEN)
    with database.unit_of_work() as session:
        team = make_team(session)
        row = make_campaign(session, teams=[team], **campaign)
        lead_ids = [make_lead(session, row).id for _ in range(leads_count)]
        agent_ids = [make_user(session, Role.AGENT, team=team).id for _ in range(agents_count)]
        campaign_id = row.id
    for number, agent_id in enumerate(agent_ids, start=1):
        with database.unit_of_work() as session:
            agents.join_campaign(session, agent_id, campaign_id, f"sip:{1000 + number}@127.0.0.1")
            agents.go_ready(session, agent_id)
    bus = InProcessEventBus()
    consumer = CallEventConsumer(database)
    for event_class in CALL_EVENTS:
        bus.subscribe(event_class.TYPE, consumer)
    floor = Floor(database, bus, campaign_id, agent_ids, lead_ids)
    bus.subscribe("*", floor.published.append)
    bus.start()
    return floor


class AgentsFinishing(threading.Thread):
    """Every agent in wrap-up records a disposition (which makes them ready again)."""

    def __init__(self, database: Database, code: str = "no_decision") -> None:
        super().__init__(name="agents-finishing", daemon=True)
        self.database = database
        self.code = code
        self.done = 0
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.05):
            with self.database.sessions() as session:
                wrapping = session.execute(
                    select(AgentStatus.agent_id, AgentStatus.current_call_id).where(
                        AgentStatus.state == AgentState.WRAP_UP
                    )
                ).all()
            for agent_id, call_id in wrapping:
                try:
                    with self.database.unit_of_work() as session:
                        dispositions.set_disposition(session, agent_id, call_id, self.code)
                    self.done += 1
                except DomainError as exc:
                    self.errors.append(f"agent {agent_id} call {call_id}: {exc.message}")

    def stop(self) -> None:
        self._halt.set()
        self.join(10)
