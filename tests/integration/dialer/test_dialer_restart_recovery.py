"""What a restarted dialer closes: calls left open, their leads, their agents."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.models import AgentStatus, Call, CallStateChange, Lead
from callcenter.services import agents, call_recovery, lead_lifecycle
from callcenter.states import AgentState, CallOutcome, CallState, LeadState, Role
from dialer.db_port import DatabaseServices
from tests.factories import make_campaign, make_lead, make_team, make_user

LONG_AGO = timedelta(hours=6)
BOUND = timedelta(hours=4)


def _open_call(session, campaign, lead, state: CallState, *, agent_id=None, at=None) -> Call:  # type: ignore[no-untyped-def]
    at = at or utcnow() - LONG_AGO
    lead_lifecycle.claim_attempt(session, lead.id, now=at)
    call = Call(
        id=f"call{lead.id:028d}",
        campaign_id=campaign.id,
        lead_id=lead.id,
        customer_id=lead.customer_id,
        attempt=1,
        phone_e164="+989120000000",
        state=state,
        dialed_at=at,
        answered_at=at if state in (CallState.ANSWERED, CallState.CONNECTED) else None,
        connected_at=at if state is CallState.CONNECTED else None,
        agent_id=agent_id,
    )
    session.add(call)
    session.flush()
    return call


def test_restart_closes_calls_left_open_and_frees_leads_and_agents(database: Database) -> None:
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(session, teams=[team])
        agent = make_user(session, Role.AGENT, team=team)
        agents.join_campaign(session, agent.id, campaign.id, "sip:1001@127.0.0.1")
        ringing = _open_call(session, campaign, make_lead(session, campaign), CallState.RINGING)
        talking = _open_call(
            session, campaign, make_lead(session, campaign), CallState.CONNECTED, agent_id=agent.id
        )
        agents.go_ready(session, agent.id, now=utcnow() - LONG_AGO)
        agents.change_state(
            session, agent.id, AgentState.RESERVED, call_id=talking.id, now=utcnow() - LONG_AGO
        )
        agents.change_state(
            session, agent.id, AgentState.ON_CALL, call_id=talking.id, now=utcnow() - LONG_AGO
        )
        recent = _open_call(
            session, campaign, make_lead(session, campaign), CallState.RINGING, at=utcnow()
        )
        undialed = make_lead(session, campaign)
        lead_lifecycle.claim_attempt(session, undialed.id, now=utcnow() - timedelta(minutes=5))
        just_claimed = make_lead(session, campaign)
        lead_lifecycle.claim_attempt(session, just_claimed.id, now=utcnow())
        ids = (ringing.id, talking.id, recent.id, undialed.id, just_claimed.id, agent.id)
    ringing_id, talking_id, recent_id, undialed_id, just_claimed_id, agent_id = ids

    summary = DatabaseServices(database).recover(now=utcnow(), older_than_s=BOUND.total_seconds())

    assert summary.startswith("closed 2 calls")
    with database.sessions() as session:
        for call_id in (ringing_id, talking_id):
            call = session.get(Call, call_id)
            assert call is not None
            assert call.state is CallState.ENDED and call.outcome is CallOutcome.FAILED
            assert call.sip_reason == call_recovery.RESTART_REASON and call.ended_at is not None
            history = session.scalars(
                select(CallStateChange.to_state).where(CallStateChange.call_id == call_id)
            ).all()
            assert history[-1] is CallState.ENDED
        assert session.get(Call, recent_id).state is CallState.RINGING  # type: ignore[union-attr]
        ringing_lead = session.get(Lead, session.get(Call, ringing_id).lead_id)  # type: ignore[union-attr]
        assert ringing_lead.state is LeadState.RETRY  # type: ignore[union-attr]
        assert session.get(Lead, undialed_id).state is LeadState.RETRY  # type: ignore[union-attr]
        # Claimed a moment ago: its call.dialing may still be on the bus.
        assert session.get(Lead, just_claimed_id).state is LeadState.DIALING  # type: ignore[union-attr]
        status = session.scalar(select(AgentStatus).where(AgentStatus.agent_id == agent_id))
        assert status is not None and status.state is AgentState.WRAP_UP  # can still disposition


def test_recovery_with_nothing_left_open_changes_nothing(database: Database) -> None:
    with database.unit_of_work() as session:
        result = call_recovery.recover_after_restart(session, now=utcnow(), older_than=BOUND)
    assert result == call_recovery.Recovery(calls_closed=[], leads_released=0, agents_released=[])


def test_a_lead_dialed_by_hand_from_a_closed_state_and_never_placed_goes_back_to_it(
    database: Database,
) -> None:
    """An agent dialed a customer who had said no (or whom the dialer had
    given up on); no dialer placed the call before a restart. The lead goes
    back to its state, not to the retries the dialer would call again."""
    five_minutes_ago = utcnow() - timedelta(minutes=5)
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        claimed_from = {}
        for state in (LeadState.REJECTED, LeadState.EXHAUSTED, LeadState.NEW):
            lead = make_lead(session, campaign, state=state, attempts=1)
            lead_lifecycle.claim_by_hand(
                session, lead.id, phone="+989120000001", now=five_minutes_ago
            )
            claimed_from[lead.id] = state

    with database.unit_of_work() as session:
        result = call_recovery.recover_after_restart(session, now=utcnow(), older_than=BOUND)

    assert result.leads_released == 3
    with database.sessions() as session:
        after = {
            lead_id: (session.get_one(Lead, lead_id).state, session.get_one(Lead, lead_id).attempts)
            for lead_id in claimed_from
        }
    assert sorted(after.values()) == sorted(
        [(LeadState.REJECTED, 1), (LeadState.EXHAUSTED, 1), (LeadState.RETRY, 2)]
    )
    for lead_id, state in claimed_from.items():
        if state is not LeadState.NEW:
            assert after[lead_id][0] is state
