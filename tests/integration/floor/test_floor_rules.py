"""The floor's rules held by the server (issue 17): whatever an agent
presses and whenever their browser goes, a call ends with one disposition,
a lead never stays in DIALING, and no one who is not there is Ready."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import DispositionCode, User
from callcenter.services import accounts, wrap_ups
from callcenter.states import AgentState, DispositionOwed, LeadState
from tests.integration.floor.service_floor import ServiceFloor, build_service_floor


@pytest.fixture
def floor(sqlite_database: Database) -> Iterator[ServiceFloor]:
    yield build_service_floor(sqlite_database)


def _talk_and_hang_up(floor: ServiceFloor, agent_id: int, lead_id: int) -> str:
    """A live answer connected to the (ready, phone up) agent, then hung up."""
    call_id = floor.dial(lead_id)
    assert call_id is not None
    floor.answer(call_id)
    assert floor.reserve(agent_id, call_id)
    floor.connect(call_id, agent_id)
    floor.tick(30)
    floor.end(call_id, "answered", agent_id=agent_id)
    return call_id


def _ready_agent(floor: ServiceFloor, agent_id: int) -> None:
    floor.join(agent_id)
    assert floor.ready(agent_id) is AgentState.READY
    assert floor.phone_up(agent_id)


# -- 1. F2 / F4 in wrap-up never skip the disposition -------------------------------------


def test_ready_during_wrap_up_is_refused_until_the_call_has_a_disposition(
    floor: ServiceFloor,
) -> None:
    agent, lead = floor.agent_ids[0], floor.lead_ids[0]
    _ready_agent(floor, agent)
    call_id = _talk_and_hang_up(floor, agent, lead)
    assert floor.status(agent).state is AgentState.WRAP_UP
    with pytest.raises(DispositionOwed):
        floor.ready(agent)
    with pytest.raises(DispositionOwed):
        floor.leave(agent)
    assert floor.status(agent).state is AgentState.WRAP_UP
    floor.dispose(agent, call_id, "no_decision")
    assert floor.status(agent).state is AgentState.READY
    assert floor.lead(lead).state is LeadState.RETRY


# -- 2. the wrap-up limit runs on the server -------------------------------------------------


def test_a_wrap_up_past_its_limit_is_closed_by_the_server_sweep(floor: ServiceFloor) -> None:
    agent, lead = floor.agent_ids[0], floor.lead_ids[0]
    _ready_agent(floor, agent)
    call_id = _talk_and_hang_up(floor, agent, lead)
    floor.tick(59)
    assert floor.sweep() == ""
    floor.tick(2)
    assert "timed out 1 wrap-ups" in floor.sweep()
    assert floor.disposition_codes(call_id) == [DispositionCode.WRAP_UP_TIMEOUT.value]
    assert floor.lead(lead).state is LeadState.RETRY
    status = floor.status(agent)
    assert status.state is AgentState.PAUSED
    assert status.pause_reason == "wrap_up_timeout"
    assert floor.call(call_id).wrap_up_ended_at is not None


def test_the_sweep_takes_up_only_the_wrap_ups_past_their_limit(floor: ServiceFloor) -> None:
    """Its locking transaction a second per agent is for a wrap-up that may be
    over, not for every agent in wrap-up."""
    first, second = floor.agent_ids[:2]
    _ready_agent(floor, first)
    _ready_agent(floor, second)
    _talk_and_hang_up(floor, first, floor.lead_ids[0])
    floor.tick(30)
    _talk_and_hang_up(floor, second, floor.lead_ids[1])  # the first's wrap-up is 60 s old
    assert floor.status(second).state is AgentState.WRAP_UP
    with floor.database.read_sessions() as session:
        assert wrap_ups.agents_to_sweep(session, now=floor.now) == [first]
    assert "timed out 1 wrap-ups" in floor.sweep()
    assert floor.status(second).state is AgentState.WRAP_UP


def test_an_agent_who_never_presses_ready_after_the_disposition_is_paused_at_the_limit(
    sqlite_database: Database,
) -> None:
    floor = build_service_floor(sqlite_database, auto_ready=False)
    agent, lead = floor.agent_ids[0], floor.lead_ids[0]
    _ready_agent(floor, agent)
    call_id = _talk_and_hang_up(floor, agent, lead)
    floor.dispose(agent, call_id, "no_decision")
    assert floor.status(agent).state is AgentState.WRAP_UP
    floor.tick(61)
    floor.sweep()
    assert floor.status(agent).state is AgentState.PAUSED


# -- 3. leaving, logging out and deactivation take the agent off the queue ------------------


def test_logging_out_leaves_the_queue(floor: ServiceFloor) -> None:
    agent = floor.agent_ids[0]
    _ready_agent(floor, agent)
    with floor.database.unit_of_work() as session:
        user = session.get(User, agent)
        assert user is not None
        accounts.record_logout(session, user)
    assert floor.status(agent).state is AgentState.LOGGED_OUT
    assert agent not in {snapshot.agent_id for snapshot in floor.port.agents()}


def test_logging_out_in_wrap_up_closes_the_call_first(floor: ServiceFloor) -> None:
    agent, lead = floor.agent_ids[0], floor.lead_ids[0]
    _ready_agent(floor, agent)
    call_id = _talk_and_hang_up(floor, agent, lead)
    with floor.database.unit_of_work() as session:
        wrap_ups.end_agent_session(session, agent, now=floor.now)
    assert floor.disposition_codes(call_id) == ["wrap_up_timeout"]
    assert floor.status(agent).state is AgentState.LOGGED_OUT
    assert floor.lead(lead).state is LeadState.RETRY


def test_logging_out_on_a_call_takes_effect_when_its_wrap_up_ends(floor: ServiceFloor) -> None:
    agent, lead = floor.agent_ids[0], floor.lead_ids[0]
    _ready_agent(floor, agent)
    call_id = floor.dial(lead)
    assert call_id is not None
    floor.answer(call_id)
    assert floor.reserve(agent, call_id)
    floor.connect(call_id, agent)
    with floor.database.unit_of_work() as session:
        wrap_ups.end_agent_session(session, agent, now=floor.now)
    assert floor.status(agent).state is AgentState.ON_CALL
    floor.end(call_id, "answered", agent_id=agent)
    floor.dispose(agent, call_id, "no_decision")
    assert floor.status(agent).state is AgentState.LOGGED_OUT


def test_a_deactivated_agent_is_never_in_the_dialers_pool(floor: ServiceFloor) -> None:
    agent, admin = floor.agent_ids[0], None
    _ready_agent(floor, agent)
    with floor.database.unit_of_work() as session:
        admin = session.scalar(select(User).where(User.id == floor.agent_ids[1]))
        user = session.get(User, agent)
        assert user is not None
        user.is_active = False  # as a direct database edit would: the sweep catches it
    assert agent not in {snapshot.agent_id for snapshot in floor.port.agents()}
    floor.sweep()
    assert floor.status(agent).state is AgentState.LOGGED_OUT
    assert admin is not None


# -- 4. a pause asked for in wrap-up is where the wrap-up ends ------------------------------


def test_pause_in_wrap_up_applies_at_its_end_instead_of_auto_ready(floor: ServiceFloor) -> None:
    agent, lead = floor.agent_ids[0], floor.lead_ids[0]
    _ready_agent(floor, agent)
    call_id = _talk_and_hang_up(floor, agent, lead)
    assert floor.pause(agent, "break") is AgentState.WRAP_UP
    assert floor.status(agent).pause_after_call == "break"
    floor.dispose(agent, call_id, "no_decision")
    status = floor.status(agent)
    assert status.state is AgentState.PAUSED and status.pause_reason == "break"
    other_call = floor.dial(floor.lead_ids[1])
    assert other_call is not None
    assert not floor.reserve(agent, other_call)


def test_pause_on_a_call_applies_after_its_wrap_up(floor: ServiceFloor) -> None:
    agent, lead = floor.agent_ids[0], floor.lead_ids[0]
    _ready_agent(floor, agent)
    call_id = floor.dial(lead)
    assert call_id is not None
    floor.answer(call_id)
    assert floor.reserve(agent, call_id)
    assert floor.pause(agent, "lunch") is AgentState.RESERVED  # the call is being connected
    floor.connect(call_id, agent)
    floor.end(call_id, "answered", agent_id=agent)
    floor.dispose(agent, call_id, "no_decision")
    status = floor.status(agent)
    assert status.state is AgentState.PAUSED and status.pause_reason == "lunch"


def test_ready_on_a_call_withdraws_the_pause_asked_for(floor: ServiceFloor) -> None:
    agent, lead = floor.agent_ids[0], floor.lead_ids[0]
    _ready_agent(floor, agent)
    call_id = floor.dial(lead)
    assert call_id is not None
    floor.answer(call_id)
    assert floor.reserve(agent, call_id)
    floor.connect(call_id, agent)
    assert floor.pause(agent, "break") is AgentState.ON_CALL
    assert floor.ready(agent) is AgentState.ON_CALL
    assert floor.status(agent).pause_after_call is None
    floor.end(call_id, "answered", agent_id=agent)
    floor.dispose(agent, call_id, "no_decision")
    assert floor.status(agent).state is AgentState.READY


# -- 9. notes over the limit are refused with a message, not cut --------------------------


def test_notes_over_the_limit_are_refused_not_cut(floor: ServiceFloor) -> None:
    from callcenter.errors import InvalidInput
    from callcenter.services import workstation

    agent, lead = floor.agent_ids[0], floor.lead_ids[0]
    _ready_agent(floor, agent)
    call_id = _talk_and_hang_up(floor, agent, lead)
    too_long = "x" * (workstation.MAX_NOTES + 1)
    with pytest.raises(InvalidInput, match="too long"):
        floor.dispose(agent, call_id, "no_decision", notes=too_long)
    with pytest.raises(InvalidInput, match="too long"), floor.database.unit_of_work() as session:
        workstation.save_notes(session, agent, call_id, too_long)
    assert floor.status(agent).state is AgentState.WRAP_UP
    floor.dispose(agent, call_id, "no_decision", notes="x" * workstation.MAX_NOTES)
    assert floor.status(agent).state is AgentState.READY
