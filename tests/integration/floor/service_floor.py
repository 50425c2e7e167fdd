"""A call floor driven through the real services on a real database, as the
web handlers, the dialer's port and the bus consumer drive it, with a clock
the test moves: agents press keys (`agents`), the dialer reserves agents and
reports phone legs (`dialer.db_port.DatabaseServices`), call events are
applied as the consumer applies them (`calls.apply_event`), and the server's
floor sweep runs as the dialer's tick runs it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from callcenter.db import Database
from callcenter.errors import Conflict
from callcenter.events import CallAnswered, CallConnected, CallDialing, CallEnded, Event
from callcenter.models import (
    AgentStatus,
    Call,
    Campaign,
    DialMode,
    Lead,
    PauseReason,
)
from callcenter.services import agents, calls, dispositions, lead_lifecycle
from callcenter.states import Role
from dialer.db_port import DatabaseServices
from tests.factories import make_campaign, make_customer, make_lead, make_team, make_user

START = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)  # 11:30 in Tehran, a Saturday


@dataclass
class ServiceFloor:
    database: Database
    campaign_id: int
    agent_ids: list[int]
    lead_ids: list[int]
    now: datetime = START
    port: DatabaseServices = field(init=False)

    def __post_init__(self) -> None:
        self.port = DatabaseServices(self.database)

    # -- the clock

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    # -- agents at their screens

    def join(self, agent_id: int) -> None:
        with self.database.unit_of_work() as session:
            agents.join_campaign(session, agent_id, self.campaign_id, "sip:1001@pbx", now=self.now)

    def ready(self, agent_id: int) -> Any:
        with self.database.unit_of_work() as session:
            return agents.go_ready(session, agent_id, now=self.now).state

    def phone_up(self, agent_id: int) -> bool:
        """The dialer calls the ready agent's phone and it answers."""
        leg = uuid.uuid4().hex
        if not self.port.phone_leg_calling(agent_id, leg):
            return False
        self.port.phone_leg_answered(agent_id, leg)
        return True

    def phone_lost(self, agent_id: int) -> None:
        with self.database.unit_of_work() as session:
            leg = agents.status_of(session, agent_id).phone_leg_id
        self.port.phone_leg_lost(agent_id, leg, reason="488 dropped", now=self.now)

    def pause(self, agent_id: int, reason: str = "break") -> Any:
        with self.database.unit_of_work() as session:
            return agents.pause(session, agent_id, reason, now=self.now).state

    def leave(self, agent_id: int) -> Any:
        with self.database.unit_of_work() as session:
            return agents.log_out(session, agent_id, now=self.now).state

    def dispose(self, agent_id: int, call_id: str, code: str = "no_decision", **extra: Any) -> None:
        with self.database.unit_of_work() as session:
            dispositions.set_disposition(session, agent_id, call_id, code, now=self.now, **extra)

    def sweep(self) -> str:
        return self.port.sweep_floor(now=self.now)

    # -- the dialer

    def dial(self, lead_id: int, *, agent_id: int | None = None) -> str | None:
        """Claim the lead's attempt and dial it, as the worker does; None
        when the database refuses the claim."""
        try:
            with self.database.unit_of_work() as session:
                attempt = lead_lifecycle.claim_attempt(session, lead_id, now=self.now).attempts
        except Conflict:  # not dialable any more, DNC, attempts used up
            return None
        call_id = uuid.uuid4().hex
        with self.database.unit_of_work() as session:
            calls.open_call(
                session,
                call_id=call_id,
                campaign_id=self.campaign_id,
                lead_id=lead_id,
                attempt=attempt,
                agent_id=agent_id,
                dialer_id=self.port.dialer_id,
                at=self.now,
            )
        self.apply(
            CallDialing(
                call_id=call_id,
                campaign_id=self.campaign_id,
                lead_id=lead_id,
                attempt=attempt,
                agent_id=agent_id,
                occurred_at=self.now,
            )
        )
        return call_id

    def answer(self, call_id: str) -> None:
        self.apply(CallAnswered(call_id=call_id, occurred_at=self.now))

    def reserve(self, agent_id: int, call_id: str) -> bool:
        return self.port.reserve_agent(
            agent_id, call_id=call_id, now=self.now, reason="live answer"
        )

    def connect(self, call_id: str, agent_id: int) -> None:
        self.apply(CallConnected(call_id=call_id, agent_id=agent_id, occurred_at=self.now))

    def end(self, call_id: str, outcome: str, *, agent_id: int | None = None) -> None:
        self.apply(
            CallEnded(call_id=call_id, outcome=outcome, agent_id=agent_id, occurred_at=self.now)
        )

    def apply(self, event: Event) -> None:
        with self.database.unit_of_work() as session:
            calls.apply_event(session, event)

    # -- reading

    def status(self, agent_id: int) -> AgentStatus:
        with self.database.read_sessions() as session:
            status = session.get(AgentStatus, agent_id)
            assert status is not None
            session.expunge(status)
            return status

    def lead(self, lead_id: int) -> Lead:
        with self.database.read_sessions() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            session.expunge(lead)
            return lead

    def call(self, call_id: str) -> Call:
        with self.database.read_sessions() as session:
            call = session.get(Call, call_id)
            assert call is not None
            session.expunge(call)
            return call

    def disposition_codes(self, call_id: str) -> list[str]:
        from callcenter.models import Disposition

        with self.database.read_sessions() as session:
            rows = session.scalars(select(Disposition.code).where(Disposition.call_id == call_id))
            return [str(code) for code in rows]


def build_service_floor(
    database: Database,
    *,
    agents_count: int = 2,
    leads_count: int = 4,
    auto_ready: bool = True,
    wrap_up_limit_seconds: int = 60,
    dial_mode: DialMode = DialMode.PROGRESSIVE,
) -> ServiceFloor:
    with database.unit_of_work() as session:
        for code, limit in (("break", 15), ("lunch", 45)):
            if session.get(PauseReason, code) is None:
                session.add(
                    PauseReason(code=code, label_fa=code, label_en=code, limit_minutes=limit)
                )
        team = make_team(session)
        campaign: Campaign = make_campaign(
            session,
            teams=[team],
            auto_ready_after_wrap_up=auto_ready,
            wrap_up_limit_seconds=wrap_up_limit_seconds,
            dial_mode=dial_mode,
            max_attempts=3,
        )
        agent_ids = [make_user(session, Role.AGENT, team=team).id for _ in range(agents_count)]
        lead_ids = [
            make_lead(session, campaign, make_customer(session)).id for _ in range(leads_count)
        ]
        campaign_id = campaign.id
    return ServiceFloor(database, campaign_id, agent_ids, lead_ids)
