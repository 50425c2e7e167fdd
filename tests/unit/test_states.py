import pytest

from callcenter.states import (
    AGENT_TRANSITIONS,
    APPOINTMENT_TRANSITIONS,
    CALL_TRANSITIONS,
    HELD_STATUSES,
    LEAD_TRANSITIONS,
    AgentState,
    AppointmentStatus,
    CallState,
    IllegalTransition,
    LeadState,
    advance,
)


@pytest.mark.parametrize(
    "table", [AGENT_TRANSITIONS, CALL_TRANSITIONS, LEAD_TRANSITIONS, APPOINTMENT_TRANSITIONS]
)
def test_every_state_has_a_row_and_targets_are_states(table) -> None:
    states = set(type(next(iter(table))))
    assert set(table) == states
    for targets in table.values():
        assert targets <= states


def test_agent_lifecycle_of_a_normal_call() -> None:
    path = [
        AgentState.READY,
        AgentState.RESERVED,
        AgentState.ON_CALL,
        AgentState.WRAP_UP,
        AgentState.READY,
        AgentState.PAUSED,
        AgentState.LOGGED_OUT,
    ]
    state = AgentState.LOGGED_OUT
    for nxt in path:
        state = advance(AGENT_TRANSITIONS, state, nxt, subject="agent 1")
    assert state is AgentState.LOGGED_OUT


@pytest.mark.parametrize(
    ("table", "current", "new"),
    [
        (AGENT_TRANSITIONS, AgentState.WRAP_UP, AgentState.ON_CALL),
        (AGENT_TRANSITIONS, AgentState.LOGGED_OUT, AgentState.ON_CALL),
        (CALL_TRANSITIONS, CallState.ENDED, CallState.RINGING),
        (CALL_TRANSITIONS, CallState.CONNECTED, CallState.ANSWERED),
        (LEAD_TRANSITIONS, LeadState.DNC, LeadState.DIALING),
        (LEAD_TRANSITIONS, LeadState.NEW, LeadState.APPOINTMENT),
        (APPOINTMENT_TRANSITIONS, AppointmentStatus.BOOKED, AppointmentStatus.SOLD),
        (APPOINTMENT_TRANSITIONS, AppointmentStatus.HELD, AppointmentStatus.NO_SHOW),
        (APPOINTMENT_TRANSITIONS, AppointmentStatus.SOLD, AppointmentStatus.NOT_SOLD),
    ],
)
def test_illegal_transitions_raise_with_details(table, current, new) -> None:
    with pytest.raises(IllegalTransition) as caught:
        advance(table, current, new, subject="thing 7")
    assert caught.value.status == 409
    assert caught.value.details == {"subject": "thing 7", "from": str(current), "to": str(new)}


def test_dnc_and_archived_leads_are_terminal() -> None:
    assert LEAD_TRANSITIONS[LeadState.DNC] == frozenset()
    assert LEAD_TRANSITIONS[LeadState.ARCHIVED] == frozenset()


def test_a_meeting_is_decided_once() -> None:
    M = AppointmentStatus
    status = advance(APPOINTMENT_TRANSITIONS, M.BOOKED, M.HELD, subject="appointment 1")
    status = advance(APPOINTMENT_TRANSITIONS, status, M.SOLD, subject="appointment 1")
    assert status is M.SOLD and status in HELD_STATUSES
    finals = {M.NO_SHOW, M.RESCHEDULED, M.CANCELLED, M.SOLD, M.NOT_SOLD}
    assert {s for s, targets in APPOINTMENT_TRANSITIONS.items() if not targets} == finals
