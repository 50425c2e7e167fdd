"""The connect (`calls.on_connected`) writes the calls row once, with its
first script step, reads the agent's user and the campaign in one statement,
and skips the read of the script path where none can be (no agent had the
call before); a preview call's path, which its agent may have moved already,
is still read and kept."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from callcenter.db import Database
from callcenter.events import CallAnswered, CallConnected, CallDialing, CallRinging
from callcenter.models import AgentStateChange, Call, StepOutcome
from callcenter.services import agents, call_script, calls
from callcenter.states import AgentState, CallState
from tests.integration.agent.agent_floor import Floor, build_floor
from tests.support import statements


def ready_floor(database: Database) -> Floor:
    with database.unit_of_work() as session:
        floor = build_floor(session, email=None)
    with database.unit_of_work() as session:
        agents.join_campaign(session, floor.agent_id, floor.campaign_id, "sip:1001@pbx.local")
        agents.go_ready(session, floor.agent_id)
    return floor


def apply(database: Database, *events: object) -> None:
    for item in events:
        with database.unit_of_work() as session:
            calls.apply_event(session, item)  # type: ignore[arg-type]


def path(database: Database, call_id: str) -> list[tuple[int, int, str]]:
    with database.sessions() as session:
        rows = session.execute(
            select(StepOutcome.seq, StepOutcome.step_number, StepOutcome.via)
            .where(StepOutcome.call_id == call_id)
            .order_by(StepOutcome.seq)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_first_connect_writes_the_call_once_and_reads_no_script_path(
    database: Database,
) -> None:
    floor = ready_floor(database)
    call_id = uuid.uuid4().hex
    dialing = CallDialing(
        call_id=call_id, campaign_id=floor.campaign_id, lead_id=floor.lead_id, attempt=1
    )
    apply(database, dialing, CallRinging(call_id=call_id), CallAnswered(call_id=call_id))

    with statements(database) as seen:
        apply(database, CallConnected(call_id=call_id, agent_id=floor.agent_id))

    assert len([s for s in seen if s.startswith("UPDATE calls ")]) == 1
    assert not [s for s in seen if "max(step_outcomes.seq)" in s]
    assert len([s for s in seen if s.startswith("SELECT") and " users" in s and "campaigns" in s])
    assert not [s for s in seen if "FROM campaigns" in s and "campaigns.description" in s]
    with database.sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        assert (call.state, call.agent_id, call.current_step, call.max_step_reached) == (
            CallState.CONNECTED,
            floor.agent_id,
            1,
            1,
        )
        assert call.connected_at is not None and call.answered_at is not None
        status = agents.status_of(session, floor.agent_id)
        assert (status.state, status.current_call_id) == (AgentState.ON_CALL, call_id)
        changes = session.execute(
            select(AgentStateChange.from_state, AgentStateChange.to_state, AgentStateChange.call_id)
            .where(AgentStateChange.agent_id == floor.agent_id)
            .order_by(AgentStateChange.id)
        ).all()
    assert [tuple(c) for c in changes[-2:]] == [
        (AgentState.READY, AgentState.RESERVED, call_id),
        (AgentState.RESERVED, AgentState.ON_CALL, call_id),
    ]
    assert path(database, call_id) == [(1, 1, "start")]


def test_a_preview_calls_connect_keeps_the_moves_its_agent_made_before(
    database: Database,
) -> None:
    floor = ready_floor(database)
    call_id = uuid.uuid4().hex
    apply(
        database,
        CallDialing(
            call_id=call_id,
            campaign_id=floor.campaign_id,
            lead_id=floor.lead_id,
            attempt=1,
            agent_id=floor.agent_id,
        ),
    )
    with database.unit_of_work() as session:
        call_script.move_step(session, floor.agent_id, call_id, "next")

    apply(
        database,
        CallRinging(call_id=call_id),
        CallAnswered(call_id=call_id),
        CallConnected(call_id=call_id, agent_id=floor.agent_id),
    )

    assert path(database, call_id) == [(1, 1, "start"), (2, 2, "next")]
    with database.sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        assert (call.state, call.current_step) == (CallState.CONNECTED, 2)
