"""The port's agents read (every tick and while answers wait) gives the
snapshots the rows say: every agent in a campaign and not logged out whose
user is active, with their state, since, phone and call, whichever state
they are in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import AgentStatus, User
from callcenter.services import calls
from callcenter.states import AgentState, Role
from dialer.db_port import DatabaseServices
from dialer.ports import AgentPhase, AgentSnapshot
from tests.factories import make_campaign, make_lead, make_team, make_user

NOW = datetime(2025, 1, 4, 8, 0, tzinfo=UTC)


def test_the_agents_read_gives_every_state_as_the_rows_have_it(database: Database) -> None:
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(session, teams=[team])
        lead = make_lead(session, campaign)
        session.flush()
        calls.open_call(
            session,
            call_id="call-1",
            campaign_id=campaign.id,
            lead_id=lead.id,
            attempt=1,
            agent_id=None,
            dialer_id="d",
            at=NOW,
            phone_e164=lead.customer.phone_e164,
        )
        rows = []
        for number, state in enumerate([*AgentState, AgentState.READY, AgentState.READY]):
            user = make_user(session, Role.AGENT, team=team)
            user.sip_uri = f"sip:{1000 + number}@127.0.0.1" if number % 2 else None
            status = session.get(AgentStatus, user.id) or AgentStatus(agent_id=user.id)
            session.add(status)
            status.state = state
            status.since = NOW + timedelta(seconds=number, microseconds=number)
            status.campaign_id = campaign.id
            status.current_call_id = "call-1" if state is AgentState.ON_CALL else None
            rows.append((user, status))
        rows[-1][0].is_active = False  # an inactive user is not offered
        rows[-2][1].campaign_id = None  # nor an agent in no campaign
    with database.sessions() as session:
        expected = [
            AgentSnapshot(
                agent_id=status.agent_id,
                campaign_id=status.campaign_id,
                phase=AgentPhase(status.state.value),
                since=status.since,
                phone=user.sip_uri,
                call_id=status.current_call_id,
            )
            for status, user in session.execute(
                select(AgentStatus, User).join(User, User.id == AgentStatus.agent_id)
            ).tuples()
            if status.campaign_id is not None
            and status.state is not AgentState.LOGGED_OUT
            and user.is_active
        ]

    got = DatabaseServices(database).agents()

    assert len(expected) == len(AgentState) - 1
    assert {snapshot.phase for snapshot in got} == set(AgentPhase)
    assert all(snapshot.since.tzinfo is not None for snapshot in got)
    assert sorted(got, key=lambda s: s.agent_id) == sorted(expected, key=lambda s: s.agent_id)
    assert {type(snapshot.phase) for snapshot in got} == {AgentPhase}
