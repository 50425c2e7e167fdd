"""A call's ringing and answer are applied in one guarded UPDATE when the
session holds no copy of its row, and through the locked read of the row
otherwise; either way the row, its state changes and the agent's state
changes come out the same."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from callcenter import after_commit
from callcenter.consumers import CallEventConsumer
from callcenter.db import Database
from callcenter.domain_events import AgentStateRecorded
from callcenter.errors import NotFound
from callcenter.events import CallAnswered, CallConnected, CallDialing, CallRinging
from callcenter.models import AgentStateChange, Call, CallStateChange
from callcenter.services import agents, calls
from callcenter.states import AgentState, AmdAction, AmdResult, CallState, Role
from tests.factories import make_campaign, make_lead, make_team, make_user
from tests.support import statements


@dataclass
class Floor:
    campaign_id: int
    agent_id: int
    lead_ids: list[int]


def _floor(database: Database, leads: int = 1) -> Floor:
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(session, teams=[team])
        lead_ids = [make_lead(session, campaign).id for _ in range(leads)]
        agent_id = make_user(session, Role.AGENT, team=team).id
        agents.join_campaign(session, agent_id, campaign.id, "sip:1001@127.0.0.1")
        agents.go_ready(session, agent_id)
        return Floor(campaign.id, agent_id, lead_ids)


def _dialed(database: Database, floor: Floor, call_id: str, lead_index: int = 0) -> None:
    lead_id = floor.lead_ids[lead_index]
    CallEventConsumer(database)(
        CallDialing(call_id=call_id, campaign_id=floor.campaign_id, lead_id=lead_id, attempt=1)
    )


def _moves(database: Database, call_id: str) -> list[tuple[CallState | None, CallState]]:
    with database.sessions() as session:
        query = (
            select(CallStateChange.from_state, CallStateChange.to_state)
            .where(CallStateChange.call_id == call_id)
            .order_by(CallStateChange.id)
        )
        return [(row.from_state, row.to_state) for row in session.execute(query)]


def _call(database: Database, call_id: str) -> Call:
    with database.sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        return call


def test_ringing_and_answer_with_its_verdict_read_no_call_row(database: Database) -> None:
    floor = _floor(database)
    _dialed(database, floor, "rung")
    consumer = CallEventConsumer(database)
    ringing = CallRinging(call_id="rung")
    answered = CallAnswered(
        call_id="rung", amd_result="human", amd_decision_ms=900, amd_action="passed_to_agent"
    )

    with statements(database) as seen:
        consumer(ringing)
        consumer(answered)

    assert not [s for s in seen if s.startswith("SELECT") and "FROM calls" in s]
    call = _call(database, "rung")
    assert (call.state, call.ringing_at, call.answered_at) == (
        CallState.ANSWERED,
        ringing.occurred_at,
        answered.occurred_at,
    )
    assert (call.amd_result, call.amd_action, call.amd_decision_ms) == (
        AmdResult.HUMAN,
        AmdAction.PASSED_TO_AGENT,
        900,
    )
    assert _moves(database, "rung") == [
        (None, CallState.DIALING),
        (CallState.DIALING, CallState.RINGING),
        (CallState.RINGING, CallState.ANSWERED),
    ]


def test_an_answer_with_an_unknown_verdict_leaves_the_verdict_out(database: Database) -> None:
    floor = _floor(database)
    _dialed(database, floor, "odd-verdict")
    consumer = CallEventConsumer(database)
    consumer(CallRinging(call_id="odd-verdict"))
    consumer(CallAnswered(call_id="odd-verdict", amd_result="dolphin", amd_decision_ms=5))

    call = _call(database, "odd-verdict")
    assert (call.state, call.amd_result, call.amd_decision_ms) == (CallState.ANSWERED, None, None)


def test_an_answer_without_ringing_and_a_late_ringing_take_the_locked_read(
    database: Database,
) -> None:
    floor = _floor(database)
    _dialed(database, floor, "no-ring")
    consumer = CallEventConsumer(database)
    answered = CallAnswered(call_id="no-ring", amd_result="human", amd_decision_ms=700)
    consumer(answered)
    consumer(CallRinging(call_id="no-ring"))  # came late: changes nothing

    call = _call(database, "no-ring")
    assert (call.state, call.answered_at, call.ringing_at, call.amd_result) == (
        CallState.ANSWERED,
        answered.occurred_at,
        None,
        AmdResult.HUMAN,
    )
    assert _moves(database, "no-ring") == [
        (None, CallState.DIALING),
        (CallState.DIALING, CallState.ANSWERED),
    ]


def test_ringing_of_a_call_not_written_is_not_found(database: Database) -> None:
    with database.unit_of_work() as session, pytest.raises(NotFound):
        calls.apply_event(session, CallRinging(call_id="never-dialed"))


def test_the_sessions_copy_of_the_call_is_moved_with_the_row(database: Database) -> None:
    """A session that read the call (without locking it) sees the ringing it
    applies: the move goes through its copy, not around it."""
    floor = _floor(database)
    _dialed(database, floor, "read-first")
    with database.unit_of_work() as session:
        copy = session.get(Call, "read-first")
        assert copy is not None and copy.state is CallState.DIALING
        calls.apply_event(session, CallRinging(call_id="read-first"))
        calls.apply_event(session, CallAnswered(call_id="read-first"))
        assert session.get(Call, "read-first") is copy
        assert copy.state is CallState.ANSWERED

    assert _call(database, "read-first").state is CallState.ANSWERED


def test_the_agents_changes_are_recorded_with_their_rows_ids(database: Database) -> None:
    floor = _floor(database)
    _dialed(database, floor, "to-agent")
    recorded: list[AgentStateRecorded] = []
    after_commit.subscribe(
        database.sessions,
        lambda items: recorded.extend(i for i in items if isinstance(i, AgentStateRecorded)),
    )
    consumer = CallEventConsumer(database)
    consumer(CallRinging(call_id="to-agent"))
    consumer(CallAnswered(call_id="to-agent"))
    connected = CallConnected(call_id="to-agent", agent_id=floor.agent_id)
    consumer(connected)

    with database.sessions() as session:
        rows = session.scalars(
            select(AgentStateChange)
            .where(AgentStateChange.call_id == "to-agent")
            .order_by(AgentStateChange.id)
        ).all()
        assert [(r.from_state, r.to_state, r.campaign_id, r.at) for r in rows] == [
            (AgentState.READY, AgentState.RESERVED, floor.campaign_id, connected.occurred_at),
            (AgentState.RESERVED, AgentState.ON_CALL, floor.campaign_id, connected.occurred_at),
        ]
        assert [e.event_id for e in recorded] == [f"agent-state-change:{r.id}" for r in rows]
        assert [(e.from_state, e.to_state, e.call_id) for e in recorded] == [
            ("ready", "reserved", "to-agent"),
            ("reserved", "on_call", "to-agent"),
        ]
        assert agents.status_of(session, floor.agent_id).state is AgentState.ON_CALL
