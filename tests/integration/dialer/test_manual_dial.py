"""Manual dial end to end on the simulated carrier: the agent's request goes
over the bus to the dialer worker, which places the call for that agent; it
pops, is talked, wrapped up, and a paused agent is paused again after it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.events import CallDialing
from callcenter.models import AgentStateChange, AgentStatus, Call, Lead, PauseReason
from callcenter.services import agents, dispositions, manual_dial
from callcenter.states import AgentState, CallState, LeadState, PhoneLegState
from dialer.embedded import DialerThread
from dialer.simulated_carrier import SimulatedCarrier, SimulationProfile
from tests.factories import make_customer, make_lead
from tests.integration.dialer.floor import Floor, build_floor
from tests.support import wait_until

EVERYONE_ANSWERS = SimulationProfile.every_call("answer")
NOBODY_ANSWERS = SimulationProfile.every_call("busy")


def _status(floor: Floor) -> AgentStatus:
    with floor.database.sessions() as session:
        status = agents.status_of(session, floor.agent_ids[0])
        session.expunge(status)
    return status


def _paused_with_phone_up(floor: Floor) -> None:
    wait_until(lambda: _status(floor).phone_leg is PhoneLegState.UP, 20, "the agent's leg up")
    with floor.database.unit_of_work() as session:
        if session.get(PauseReason, "break") is None:
            session.add(PauseReason(code="break", label_fa="استراحت", label_en="Break"))
            session.flush()
        agents.pause(session, floor.agent_ids[0], "break")


def test_a_paused_agent_dials_a_new_number_talks_and_is_paused_again(database: Database) -> None:
    floor = build_floor(database, agents_count=1, leads_count=0)
    agent_id = floor.agent_ids[0]
    thread = DialerThread(
        floor.worker(SimulatedCarrier(EVERYONE_ANSWERS, seed=3), tick_s=0.2)
    ).start()
    try:
        _paused_with_phone_up(floor)
        with database.unit_of_work() as session:
            dial = manual_dial.dial_number(session, agent_id, "۰۹۱۲ ۳۴۵ ۶۷۸۹", bus=floor.bus)
        assert dial.phone_e164 == "+989123456789"
        wait_until(lambda: _status(floor).state is AgentState.WRAP_UP, 30, "talked and ended")
        with database.unit_of_work() as session:
            call = session.scalars(select(Call)).one()
            assert call.is_manual and not call.is_preview
            assert call.agent_id == agent_id and call.phone_e164 == "+989123456789"
            assert call.connected_at is not None and call.state is CallState.ENDED
            dispositions.set_disposition(session, agent_id, call.id, "no_decision")
        status = _status(floor)
        assert status.state is AgentState.PAUSED and status.pause_reason == "break"
    finally:
        thread.stop()
        floor.bus.wait_until_idle()
        floor.bus.stop()
    dialing = [e for e in floor.published if isinstance(e, CallDialing)]
    assert [(e.agent_id, e.is_manual, e.phone_e164) for e in dialing] == [
        (agent_id, True, "+989123456789")
    ]
    with database.sessions() as session:
        moves = session.scalars(
            select(AgentStateChange.to_state)
            .where(AgentStateChange.agent_id == agent_id)
            .order_by(AgentStateChange.id)
        ).all()
    assert [str(m) for m in moves][-5:] == ["paused", "reserved", "on_call", "wrap_up", "paused"]


def test_the_other_number_of_an_exhausted_lead_busy_back_to_pause(database: Database) -> None:
    """The customer's second number is dialed (the lead had used up its
    attempts: an agent's own call is exempt); busy, the agent is back in
    their pause at once and the lead is settled by the outcome."""
    floor = build_floor(database, agents_count=1, leads_count=0, max_attempts=1)
    agent_id = floor.agent_ids[0]
    with database.unit_of_work() as session:
        from callcenter.models import Campaign

        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        customer = make_customer(session, phone2_e164="+989121110000")
        lead = make_lead(session, campaign, customer, state=LeadState.EXHAUSTED, attempts=1)
        customer_id, lead_id = customer.id, lead.id
    thread = DialerThread(
        floor.worker(SimulatedCarrier(NOBODY_ANSWERS, seed=3), tick_s=0.2)
    ).start()
    try:
        _paused_with_phone_up(floor)
        with database.unit_of_work() as session:
            manual_dial.dial_customer(session, agent_id, customer_id, "second", bus=floor.bus)

        def settled() -> bool:
            with database.sessions() as session:
                lead = session.get(Lead, lead_id)
                return (
                    lead is not None and lead.state is not LeadState.DIALING and lead.attempts == 2
                )

        wait_until(settled, 30, "the busy call settled")
        wait_until(lambda: _status(floor).state is AgentState.PAUSED, 10, "back in the pause")
    finally:
        thread.stop()
        floor.bus.wait_until_idle()
        floor.bus.stop()
    with database.sessions() as session:
        call = session.scalars(select(Call)).one()
        assert call.phone_e164 == "+989121110000" and call.is_manual
        assert str(call.outcome) == "busy" and call.connected_at is None
    assert _status(floor).pause_reason == "break"
    assert utcnow() - _status(floor).since < timedelta(minutes=1)
