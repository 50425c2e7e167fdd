"""Consumers in several processes share one stream: two events of one call
may be applied at the same time. Each must see what the other wrote."""

from __future__ import annotations

import threading

from callcenter.db import Database, utcnow
from callcenter.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallRinging,
    Event,
)
from callcenter.models import Call
from callcenter.services import agents, calls, lead_lifecycle
from callcenter.states import AgentState, CallOutcome, CallState, Role
from tests.factories import make_campaign, make_lead, make_team, make_user


def _apply(database: Database, event: Event) -> None:
    with database.unit_of_work() as session:
        calls.apply_event(session, event)


def test_an_event_applied_alongside_another_of_the_same_call_sees_its_writes(
    postgres_url: str,
) -> None:
    database = Database(postgres_url)
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(session, teams=[team])
        lead_id = make_lead(session, campaign).id
        agent_id = make_user(session, Role.AGENT, team=team).id
        agents.join_campaign(session, agent_id, campaign.id, "sip:1001@127.0.0.1")
        agents.go_ready(session, agent_id)
        campaign_id = campaign.id
    _apply(database, CallDialing(call_id="c1", campaign_id=campaign_id, lead_id=lead_id, attempt=1))
    _apply(database, CallRinging(call_id="c1"))

    answered = threading.Thread(target=_apply, args=(database, CallAnswered(call_id="c1")))
    with database.unit_of_work() as session:
        calls.apply_event(session, CallConnected(call_id="c1", agent_id=agent_id))
        answered.start()
        # The late CallAnswered waits for this transaction; without the lock it
        # would read the call as ringing and write "answered" over "connected".
        answered.join(1.0)
    answered.join(30)
    assert not answered.is_alive()

    with database.sessions() as session:
        call = session.get(Call, "c1")
        assert call is not None
        assert call.state is CallState.CONNECTED
        assert call.answered_at is not None and call.connected_at is not None
        assert call.agent_id == agent_id


def test_a_call_connected_by_the_dialer_is_connected_whatever_order_its_events_come_in(
    database: Database,
) -> None:
    """The dialer writes the row first; then one consumer may apply call.ended
    before another has applied call.connected (or call.dialing)."""
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(session, teams=[team])
        lead = make_lead(session, campaign)
        agent_id = make_user(session, Role.AGENT, team=team).id
        agents.join_campaign(session, agent_id, campaign.id, "sip:1001@127.0.0.1")
        agents.go_ready(session, agent_id)
        lead_lifecycle.claim_attempt(session, lead.id, now=utcnow())
        calls.open_call(
            session,
            call_id="c2",
            campaign_id=campaign.id,
            lead_id=lead.id,
            attempt=1,
            agent_id=None,
            dialer_id="d1",
            at=utcnow(),
        )
        dialing = CallDialing(call_id="c2", campaign_id=campaign.id, lead_id=lead.id, attempt=1)
    _apply(
        database, CallEnded(call_id="c2", outcome="answered", agent_id=agent_id, talk_seconds=19)
    )
    _apply(database, CallConnected(call_id="c2", agent_id=agent_id))
    _apply(database, CallAnswered(call_id="c2"))
    _apply(database, dialing)

    with database.sessions() as session:
        call = session.get(Call, "c2")
        assert call is not None and call.connected_at is not None and call.ended_at is not None
        assert (call.state, call.outcome, call.agent_id) == (
            CallState.ENDED,
            CallOutcome.ANSWERED,
            agent_id,
        )
        assert round((call.ended_at - call.connected_at).total_seconds()) == 19
        status = agents.status_of(session, agent_id)
        assert (status.state, status.current_call_id) == (AgentState.WRAP_UP, "c2")
