"""The live floor counts what a commit changed (`callcenter.after_commit`):
call events the calls service applied and the rows its flush hook saw, once
the outermost transaction commits, and nothing that a SAVEPOINT rolled back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.events import CallDialing
from callcenter.live_counters import InProcessCounters
from callcenter.models import Campaign, PauseReason
from callcenter.services import agents, calls
from callcenter.services.floor.projection import LiveFloor
from callcenter.states import AgentState, Role
from tests.factories import make_campaign, make_lead, make_team, make_user

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def watching_floor(database: Database) -> LiveFloor:
    floor = LiveFloor(
        counters=InProcessCounters(),
        database=database,
        emit=lambda _name, _data, _room: None,
        tz=ZoneInfo("Asia/Tehran"),
        clock=lambda: NOW,
    )
    floor.watch(database)
    floor.ensure_built(floor.local_day(NOW))  # later commits are counted, not rebuilt
    return floor


def dial(session: Session, campaign: Campaign) -> str:
    call_id = uuid.uuid4().hex
    lead = make_lead(session, campaign)
    calls.apply_event(
        session,
        CallDialing(
            call_id=call_id, campaign_id=campaign.id, lead_id=lead.id, attempt=1, occurred_at=NOW
        ),
    )
    return call_id


def dials(floor: LiveFloor, campaign: Campaign) -> Any:
    return floor.counters.totals(floor.local_day(NOW)).get(campaign.id, {}).get("dials", 0)


def test_call_events_count_once_committed_and_not_from_a_rolled_back_savepoint(
    database: Database,
) -> None:
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
    floor = watching_floor(database)
    with database.sessions() as session:
        lost = session.begin_nested()
        rolled_back = dial(session, campaign)
        lost.rollback()
        with session.begin_nested():
            released = dial(session, campaign)
        before = dial(session, campaign)
        assert floor.counters.get_call(released) is None
        session.commit()
    assert floor.counters.get_call(rolled_back) is None
    assert floor.counters.get_call(released) is not None
    assert floor.counters.get_call(before) is not None
    assert dials(floor, campaign) == 2


def test_agent_state_rows_count_once_committed_and_not_from_a_rolled_back_savepoint(
    database: Database,
) -> None:
    with database.unit_of_work() as session:
        if session.get(PauseReason, "break") is None:
            session.add(PauseReason(code="break", label_fa="break", label_en="break"))
        team = make_team(session)
        campaign = make_campaign(session, teams=[team])
        agent = make_user(session, role=Role.AGENT, team=team)
        agents.join_campaign(session, agent.id, campaign.id, "sip:1001@pbx", now=NOW)
    floor = watching_floor(database)
    shown_before = shown_state(floor, agent.id)
    assert shown_before != AgentState.PAUSED
    with database.sessions() as session:
        lost = session.begin_nested()
        agents.pause(session, agent.id, "break", now=NOW)
        lost.rollback()
        session.commit()
    assert shown_state(floor, agent.id) == shown_before
    with database.sessions() as session:
        with session.begin_nested():
            agents.pause(session, agent.id, "break", now=NOW)
        assert shown_state(floor, agent.id) == shown_before
        session.commit()
    assert shown_state(floor, agent.id) == AgentState.PAUSED


def shown_state(floor: LiveFloor, agent_id: int) -> Any:
    shown = floor.counters.get_agent(agent_id)
    return None if shown is None else shown["state"]
