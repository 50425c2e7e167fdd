"""Every agent state payload carries the agent_status row's version, and it
only goes up (services.agents, phone_legs, calls, dispositions, manual_dial),
on SQLite and PostgreSQL: the agent's screen orders a reply and the pushes by
it and never goes back to an older state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from callcenter.db import Database, utcnow
from callcenter.events import CallAnswered, CallConnected, CallDialing, CallEnded
from callcenter.models import AgentStatus, Campaign, PauseReason
from callcenter.realtime import BROADCASTER
from callcenter.realtime.rooms import agent_room
from callcenter.services import (
    agents,
    calls,
    dispositions,
    manual_dial,
    phone_legs,
    workstation,
)
from callcenter.states import AgentState, Role
from tests.factories import make_campaign, make_lead, make_team, make_user
from tests.integration.dialer.floor import ALWAYS_OPEN

BREAK = "break"


class Pushes:
    """The agent.state_changed payloads sent to one agent's screen."""

    def __init__(self, agent_id: int) -> None:
        self.room = agent_room(agent_id)
        self.payloads: list[dict[str, Any]] = []

    def emit(self, event: str, data: Any, *, to: str, namespace: str = "/") -> None:
        if event == agents.STATE_CHANGED and to == self.room:
            self.payloads.append(data)

    def versions(self) -> list[int]:
        return [payload["version"] for payload in self.payloads]


@dataclass(frozen=True)
class Desk:
    agent_id: int
    campaign_id: int
    pushes: Pushes


@pytest.fixture
def desk(database: Database) -> Desk:
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(
            session, teams=[team], auto_ready_after_wrap_up=True, calling_windows=ALWAYS_OPEN
        )
        agent = make_user(session, Role.AGENT, team=team)
        session.merge(PauseReason(code=BREAK, label_fa="استراحت", label_en="Break"))
        return Desk(agent.id, campaign.id, Pushes(agent.id))


def unit(database: Database, desk: Desk) -> Any:
    """One unit of work whose pushes go to `desk.pushes` after its commit."""
    session = database.sessions(info={BROADCASTER: desk.pushes})

    class Unit:
        def __enter__(self) -> Any:
            return session

        def __exit__(self, kind: Any, *_rest: Any) -> None:
            if kind is None:
                session.commit()
            session.close()

    return Unit()


def row_version(database: Database, desk: Desk) -> int:
    with database.sessions() as session:
        row = session.get(AgentStatus, desk.agent_id)
        assert row is not None
        return row.version


def test_every_push_of_a_days_work_carries_a_version_that_only_goes_up(
    database: Database, desk: Desk
) -> None:
    leg_id = "agent-leg-1"
    call_id = uuid.uuid4().hex
    with unit(database, desk) as session:
        agents.join_campaign(session, desk.agent_id, desk.campaign_id, "sip:1001@pbx.example.com")
    with unit(database, desk) as session:
        agents.go_ready(session, desk.agent_id)
        assert phone_legs.calling(session, desk.agent_id, leg_id)
    with unit(database, desk) as session:
        phone_legs.answered(session, desk.agent_id, leg_id)
    with unit(database, desk) as session:
        campaign = session.get(Campaign, desk.campaign_id)
        assert campaign is not None
        lead = make_lead(session, campaign)
        for event in (
            CallDialing(call_id=call_id, campaign_id=campaign.id, lead_id=lead.id, attempt=1),
            CallAnswered(call_id=call_id),
            CallConnected(call_id=call_id, agent_id=desk.agent_id),
        ):
            calls.apply_event(session, event)
    reason = BREAK
    with unit(database, desk) as session:
        agents.pause(session, desk.agent_id, reason)  # waits for the wrap-up's end
    with unit(database, desk) as session:
        calls.apply_event(
            session,
            CallEnded(call_id=call_id, outcome="answered", sip_status=200, agent_id=desk.agent_id),
        )
    with unit(database, desk) as session:
        dispositions.set_disposition(session, desk.agent_id, call_id, "no_decision")
    with unit(database, desk) as session:
        agents.go_ready(session, desk.agent_id)
    with unit(database, desk) as session:
        phone_legs.lost(session, desk.agent_id, leg_id, reason="phone hung up", now=utcnow())
    with unit(database, desk) as session:
        agents.log_out(session, desk.agent_id)

    states = [payload["state"] for payload in desk.pushes.payloads]
    assert states[0] == "logged_out" and states[-1] == "logged_out"
    assert {"ready", "reserved", "on_call", "wrap_up", "paused"} <= set(states)
    versions = desk.pushes.versions()
    assert all(isinstance(version, int) for version in versions)
    assert versions == sorted(set(versions)), versions  # each push newer than the last
    assert versions[-1] == row_version(database, desk)


def test_a_reply_carries_the_version_of_the_state_it_says(database: Database, desk: Desk) -> None:
    with unit(database, desk) as session:
        status = agents.join_campaign(
            session, desk.agent_id, desk.campaign_id, "sip:1001@pbx.example.com"
        )
        joined = agents.state_payload(session, status)
    with unit(database, desk) as session:
        status = agents.go_ready(session, desk.agent_id)
        ready = agents.state_payload(session, status)
    assert joined["version"] < ready["version"] == desk.pushes.payloads[-1]["version"]
    with unit(database, desk) as session:
        phone_legs.calling(session, desk.agent_id, "agent-leg-1")  # the dialer, meanwhile
    with database.sessions() as session:
        resumed = workstation.current_view(session, desk.agent_id)["agent"]
    assert resumed["version"] == desk.pushes.payloads[-1]["version"] > ready["version"]
    assert resumed["phone_leg"] == "calling"


def test_a_write_after_the_push_moves_the_version_on_for_the_reply(
    database: Database, desk: Desk
) -> None:
    """A manual dial from a pause pushes `reserved`, then notes the pause to
    go back to: the reply says both, and is the newer of the two."""
    with unit(database, desk) as session:
        agents.join_campaign(session, desk.agent_id, desk.campaign_id, "sip:1001@pbx.example.com")
        agents.go_ready(session, desk.agent_id)
        phone_legs.calling(session, desk.agent_id, "agent-leg-1")
        phone_legs.answered(session, desk.agent_id, "agent-leg-1")
    reason = BREAK
    with unit(database, desk) as session:
        agents.pause(session, desk.agent_id, reason)
    with unit(database, desk) as session:
        manual_dial.dial_number(session, desk.agent_id, "09121234567", bus=None)
        reply = agents.state_payload(session, agents.status_of(session, desk.agent_id))
    pushed = desk.pushes.payloads[-1]
    assert pushed["state"] == reply["state"] == str(AgentState.RESERVED)
    assert pushed["pause_after_call"] is None and reply["pause_after_call"] == reason
    assert reply["version"] > pushed["version"]
