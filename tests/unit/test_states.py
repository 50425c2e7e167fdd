import pytest

from callcenter.states import (
    AGENT_TRANSITIONS,
    APPOINTMENT_TRANSITIONS,
    CALL_TRANSITIONS,
    HELD_STATUSES,
    LEAD_TRANSITIONS,
    MONITOR_TRANSITIONS,
    AgentState,
    AppointmentStatus,
    CallState,
    IllegalTransition,
    LeadState,
    MonitorState,
    advance,
)


@pytest.mark.parametrize(
    "table",
    [
        AGENT_TRANSITIONS,
        CALL_TRANSITIONS,
        LEAD_TRANSITIONS,
        APPOINTMENT_TRANSITIONS,
        MONITOR_TRANSITIONS,
    ],
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
        (MONITOR_TRANSITIONS, MonitorState.ENDED, MonitorState.ACTIVE),
        (MONITOR_TRANSITIONS, MonitorState.ACTIVE, MonitorState.CALLING),
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


def test_an_agent_dials_by_hand_from_a_pause_and_returns_to_it() -> None:
    from callcenter.states import MANUAL_DIAL_FROM, after_reservation

    assert {AgentState.READY, AgentState.PAUSED} == MANUAL_DIAL_FROM
    state = advance(AGENT_TRANSITIONS, AgentState.PAUSED, AgentState.RESERVED, subject="agent 1")
    assert after_reservation("lunch") == (AgentState.PAUSED, "lunch")
    assert after_reservation(None) == (AgentState.READY, None)
    assert advance(AGENT_TRANSITIONS, state, AgentState.PAUSED, subject="agent 1")


@pytest.mark.parametrize("state", [LeadState.EXHAUSTED, LeadState.REJECTED])
def test_only_an_agent_may_dial_a_lead_the_dialer_gave_up_on(state: LeadState) -> None:
    from callcenter.states import DIALABLE_LEAD_STATES, MANUALLY_DIALABLE_LEAD_STATES

    assert state in MANUALLY_DIALABLE_LEAD_STATES and state not in DIALABLE_LEAD_STATES
    assert advance(LEAD_TRANSITIONS, state, LeadState.DIALING, subject="lead 1")
    for closed in (LeadState.APPOINTMENT, LeadState.SALE, LeadState.DNC, LeadState.INVALID):
        assert closed not in MANUALLY_DIALABLE_LEAD_STATES


def test_a_cancelled_callback_returns_the_lead_to_retries() -> None:
    assert advance(LEAD_TRANSITIONS, LeadState.CALLBACK, LeadState.RETRY, subject="lead 1")


def test_monitoring_switches_mode_in_place_and_ends_once() -> None:
    state = advance(MONITOR_TRANSITIONS, MonitorState.CALLING, MonitorState.ACTIVE, subject="m")
    state = advance(MONITOR_TRANSITIONS, state, MonitorState.ACTIVE, subject="m")  # a mode change
    state = advance(MONITOR_TRANSITIONS, state, MonitorState.ENDED, subject="m")
    with pytest.raises(IllegalTransition):
        advance(MONITOR_TRANSITIONS, state, MonitorState.ENDED, subject="m")
