"""The call floor the fault tests run the real processes against, and what
they read back: the calls and leads rows, the event stream, the live floor."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from callcenter.bus_redis import DEAD_LETTERS, STREAM
from callcenter.db import Database
from callcenter.errors import DomainError
from callcenter.models import AgentStatus, Call, Lead
from callcenter.services import agents, dispositions
from callcenter.states import AgentState, CallState, LeadState, Role
from tests.factories import make_campaign, make_lead, make_team, make_user
from tests.integration.dialer.floor import ALWAYS_OPEN
from tests.integration.dialer.topology import Process
from tests.support import wait_until


@dataclass(frozen=True)
class Site:
    campaign_id: int
    agent_ids: list[int]
    lead_ids: list[int]
    supervisor: str


def build_site(database: Database, *, agents_count: int, leads_count: int, **campaign: Any) -> Site:
    """A campaign open around the clock, its agents ready, a supervisor of their team."""
    campaign.setdefault("calling_windows", ALWAYS_OPEN)
    with database.unit_of_work() as session:
        team = make_team(session)
        row = make_campaign(session, teams=[team], **campaign)
        lead_ids = [make_lead(session, row).id for _ in range(leads_count)]
        agent_ids = [make_user(session, Role.AGENT, team=team).id for _ in range(agents_count)]
        supervisor = make_user(session, Role.SUPERVISOR)
        supervisor.supervised = [team]
        site = Site(row.id, agent_ids, lead_ids, supervisor.username)
    for number, agent_id in enumerate(agent_ids, start=1):
        with database.unit_of_work() as session:
            agents.join_campaign(session, agent_id, site.campaign_id, f"sip:{1000 + number}@pbx")
            agents.go_ready(session, agent_id)
    return site


class FinishingAgents(threading.Thread):
    """Agents in wrap-up record a disposition (and are ready again). Like the
    agents' own requests, a try that finds the database down is made again."""

    def __init__(self, database: Database) -> None:
        super().__init__(name="finishing-agents", daemon=True)
        self.database = database
        self.errors: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.1):
            try:
                self._finish_wrap_ups()
            except SQLAlchemyError:
                continue  # the database is unreachable: try again shortly

    def _finish_wrap_ups(self) -> None:
        with self.database.sessions() as session:
            wrapping = session.execute(
                select(AgentStatus.agent_id, AgentStatus.current_call_id).where(
                    AgentStatus.state == AgentState.WRAP_UP
                )
            ).all()
        for agent_id, call_id in wrapping:
            try:
                with self.database.unit_of_work() as session:
                    dispositions.set_disposition(session, agent_id, call_id, "no_decision")
            except DomainError as exc:
                self.errors.append(f"agent {agent_id} call {call_id}: {exc.message}")

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def calls_placed(dialer_output: str) -> int:
    """How many calls the dialer process says it placed, as it stops."""
    found = re.search(r"dialer stopped: (\d+) calls placed", dialer_output)
    assert found, f"the dialer did not say how many calls it placed:\n{dialer_output}"
    return int(found.group(1))


def calls_rows(database: Database) -> list[Call]:
    with database.sessions() as session:
        rows = list(session.scalars(select(Call).order_by(Call.dialed_at)))
        session.expunge_all()
    return rows


def leads_rows(database: Database) -> list[Lead]:
    with database.sessions() as session:
        rows = list(session.scalars(select(Lead).order_by(Lead.id)))
        session.expunge_all()
    return rows


def ended_calls(database: Database, *, dialed_after: datetime | None = None) -> int:
    try:
        with database.sessions() as session:
            query = select(func.count(Call.id)).where(Call.state == CallState.ENDED)
            if dialed_after is not None:
                query = query.where(Call.dialed_at > dialed_after)
            return int(session.scalar(query) or 0)
    except SQLAlchemyError:
        return 0


def unsettled(database: Database) -> str:
    """What is still going on: calls open, leads in an attempt, agents busy ("" when quiet)."""
    with database.sessions() as session:
        open_calls = session.scalars(select(Call.id).where(Call.state != CallState.ENDED)).all()
        dialing = session.scalars(select(Lead.id).where(Lead.state == LeadState.DIALING)).all()
        busy = session.execute(
            select(AgentStatus.agent_id, AgentStatus.state).where(
                AgentStatus.state.in_([AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP])
            )
        ).all()
    found = {"open calls": open_calls, "leads dialing": dialing, "busy agents": busy}
    return "; ".join(f"{name}: {list(value)}" for name, value in found.items() if value)


def agent_states(database: Database, agent_ids: list[int]) -> dict[int, str]:
    with database.sessions() as session:
        rows = session.execute(
            select(AgentStatus.agent_id, AgentStatus.state).where(
                AgentStatus.agent_id.in_(agent_ids)
            )
        ).all()
    return {agent_id: str(state) for agent_id, state in rows}


@dataclass(frozen=True)
class StreamEvent:
    entry_id: str
    type: str
    data: dict[str, Any]


def stream_events(client: redis.Redis, stream: str = STREAM) -> list[StreamEvent]:
    """Every event on the stream, oldest first."""
    return [
        StreamEvent(entry_id.decode(), fields[b"type"].decode(), json.loads(fields[b"data"]))
        for entry_id, fields in client.xrange(stream)  # type: ignore[union-attr]
    ]


def dead_letters(client: redis.Redis) -> int:
    return int(client.xlen(DEAD_LETTERS))  # type: ignore[arg-type]


def groups_idle(client: redis.Redis, stream: str = STREAM) -> bool:
    """Every consumer group has read and acknowledged everything."""
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:
        return False
    return bool(groups) and all(
        int(group["pending"]) == 0 and int(group.get("lag") or 0) == 0
        for group in groups  # type: ignore[union-attr]
    )


def stop_dialer_once_settled(dialer: Process, database: Database, client: redis.Redis) -> int:
    """Stop the dialer, then wait until every call is recorded as ended, every
    agent is free and every group has read the stream; the calls it placed."""
    assert dialer.stop() == 0, dialer.output
    placed = calls_placed(dialer.output)
    wait_until(
        lambda: not unsettled(database) and groups_idle(client),
        60,
        "every call to be recorded as ended and every agent to be free",
        state=lambda: f"{unsettled(database)} {client.xinfo_groups(STREAM)}",
    )
    return placed
