"""`agents.state_payload` reads only the columns it shows, of the rows the
session does not hold: its payload is the one the whole rows gave
(`session.get` of the user, the campaign and the pause reason), whether the
session holds those rows or not, on SQLite and PostgreSQL. A change writes
the agent's row in one UPDATE of its own, with the caller's edits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.models import AgentStatus, Campaign, CampaignStatus, PauseReason, User
from callcenter.realtime import BROADCASTER
from callcenter.services import agents, campaigns
from callcenter.states import AgentState, PhoneLegState, Role
from tests.factories import make_campaign, make_team, make_user
from tests.integration.dialer.floor import WEEKDAYS
from tests.support import statements

NEVER_OPEN = {"weekly": {day: [] for day in WEEKDAYS}}
# Always open shuts 7 days from the clock, which moves between the two
# payloads; these hours end at a fixed time.
DAYTIME = {"weekly": {day: [{"start": "00:00", "end": "23:59"}] for day in WEEKDAYS}}


def whole_rows_payload(
    session: Session, status: AgentStatus, *, from_state: AgentState | None = None
) -> dict[str, Any]:
    """The payload as it was made before: the user's, campaign's and pause
    reason's whole rows, from the session or read."""
    session.flush()
    limit = None
    if status.pause_reason:
        pause_reason = session.get(PauseReason, status.pause_reason)
        limit = pause_reason.limit_minutes if pause_reason else None
    agent = session.get(User, status.agent_id)
    campaign = session.get(Campaign, status.campaign_id) if status.campaign_id else None
    return {
        "agent_id": status.agent_id,
        "version": status.version,
        "campaign_id": status.campaign_id,
        "campaign_status": str(campaign.status) if campaign is not None else None,
        "calling_hours": campaigns.calling_hours(campaign, utcnow()) if campaign else None,
        "state": str(status.state),
        "from_state": str(from_state) if from_state else None,
        "since": status.since.isoformat(),
        "pause_reason": status.pause_reason,
        "pause_limit_minutes": limit,
        "call_id": status.current_call_id,
        "phone": agent.sip_uri if agent is not None else None,
        "phone_leg": str(status.phone_leg),
        "phone_leg_detail": status.phone_leg_detail,
        "pause_after_call": status.pause_after_call,
        "pause_forced": status.pause_forced_by_id is not None,
    }


@dataclass(frozen=True)
class Agent:
    id: int
    campaign_id: int


@pytest.fixture
def agent(database: Database) -> Agent:
    with database.unit_of_work() as session:
        if session.get(PauseReason, "break") is None:  # PostgreSQL's tests empty every table
            session.add(
                PauseReason(code="break", label_fa="استراحت", label_en="Break", limit_minutes=15)
            )
        team = make_team(session)
        campaign = make_campaign(
            session,
            teams=[team],
            calling_windows=DAYTIME,
            holidays=["2030-01-01"],
            timezone="Asia/Tehran",
        )
        agent_id = make_user(session, Role.AGENT, team=team).id
        campaign_id = campaign.id
    with database.unit_of_work() as session:
        agents.join_campaign(session, agent_id, campaign_id, "sip:1001@pbx.example.com")
    return Agent(agent_id, campaign_id)


def both_ways(database: Database, agent_id: int, *, hold: tuple[type, ...]) -> list[Any]:
    """The payload made both ways, each in a session of its own that holds
    the rows of `hold` types (read before, as another service would have)."""
    made = []
    for way in (agents.state_payload, whole_rows_payload):
        with database.sessions() as session:
            status = agents.status_of(session, agent_id, lock=True)
            held = []
            for model in hold:
                key = {
                    User: status.agent_id,
                    Campaign: status.campaign_id,
                    PauseReason: status.pause_reason,
                }[model]
                if key is not None:
                    held.append(session.get(model, key))
            made.append(way(session, status, from_state=AgentState.READY))
            assert all(row in session for row in held)
    return made


HOLDS = [(), (User,), (Campaign,), (User, Campaign, PauseReason)]


@pytest.mark.parametrize("hold", HOLDS, ids=lambda h: "+".join(m.__name__ for m in h) or "none")
def test_a_ready_agents_payload_is_the_whole_rows_one(
    database: Database, agent: Agent, hold: tuple[type, ...]
) -> None:
    with database.unit_of_work() as session:
        agents.go_ready(session, agent.id)

    new, old = both_ways(database, agent.id, hold=hold)

    assert new == old
    assert new["phone"] == "sip:1001@pbx.example.com"
    assert new["campaign_status"] == "active" and new["calling_hours"]["timezone"] == "Asia/Tehran"


@pytest.mark.parametrize("hold", HOLDS, ids=lambda h: "+".join(m.__name__ for m in h) or "none")
def test_a_paused_agents_payload_is_the_whole_rows_one(
    database: Database, agent: Agent, hold: tuple[type, ...]
) -> None:
    with database.unit_of_work() as session:
        agents.pause(session, agent.id, "break")
        campaign = session.get(Campaign, agent.campaign_id)
        assert campaign is not None
        campaign.status = CampaignStatus.PAUSED
        campaign.calling_windows = NEVER_OPEN

    new, old = both_ways(database, agent.id, hold=hold)

    assert new == old
    assert new["pause_limit_minutes"] == 15 and new["campaign_status"] == "paused"


def test_an_agent_with_no_campaign_has_no_campaign_facts(database: Database) -> None:
    with database.unit_of_work() as session:
        agent_id = make_user(session, Role.AGENT, team=make_team(session)).id

    new, old = both_ways(database, agent_id, hold=())

    assert new == old
    assert new["campaign_status"] is None and new["calling_hours"] is None


def test_a_held_row_is_shown_as_held_and_the_rest_in_one_read(
    database: Database, agent: Agent
) -> None:
    """A row the session holds is shown as it holds it (even if another
    transaction changed it since, as session.get gave it); the others come in
    one statement."""
    with database.unit_of_work() as session:
        agents.pause(session, agent.id, "break")
    with database.sessions() as session:
        status = agents.status_of(session, agent.id)
        held = session.get(Campaign, agent.campaign_id)  # kept past the commit
        session.commit()  # the session keeps its copies (expire_on_commit=False)
        with database.unit_of_work() as other:
            changed = other.get(Campaign, agent.campaign_id)
            assert changed is not None
            changed.status = CampaignStatus.PAUSED
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(database.engine, "before_cursor_execute", listener)
        try:
            new = agents.state_payload(session, status)
        finally:
            event.remove(database.engine, "before_cursor_execute", listener)
        assert new == whole_rows_payload(session, status)
    assert new["campaign_status"] == "active" and held is not None
    (read,) = [statement for statement in seen if not statement.startswith("BEGIN")]
    assert "users" in read and "pause_reasons" in read


def test_a_change_writes_the_row_once_with_the_callers_edits(
    database: Database, agent: Agent
) -> None:
    """Ready after a lost phone: go_ready's own edits (the leg down again)
    and the change's land in the one UPDATE, and the session's copy is the row."""
    with database.unit_of_work() as session:
        status = agents.status_of(session, agent.id, lock=True)
        status.phone_leg, status.phone_leg_detail = PhoneLegState.LOST, "486 Busy Here"
    with database.sessions() as session:
        before = agents.status_of(session, agent.id).version

    with database.unit_of_work() as session, statements(database) as seen:
        status = agents.go_ready(session, agent.id)
        session.flush()
        copy = (status.state, status.phone_leg, status.phone_leg_detail, status.version)

    assert len([s for s in seen if s.startswith("UPDATE agent_status")]) == 1
    with database.sessions() as session:
        row = agents.status_of(session, agent.id)
        assert (row.state, row.phone_leg, row.phone_leg_detail, row.version) == copy
    assert copy == (AgentState.READY, PhoneLegState.DOWN, None, before + 1)


class Heard:
    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def emit(self, event: str, data: Any, *, to: str, namespace: str = "/") -> None:
        if event == agents.STATE_CHANGED:
            self.payloads.append(dict(data))


def pushed_by(database: Database, change: Any) -> dict[str, Any]:
    """The payload a change made in a session of its own pushed to the agent."""
    heard = Heard()
    with database.sessions(info={BROADCASTER: heard}) as session, statements(database) as seen:
        change(session)
        session.commit()
    assert not [s for s in seen if s.startswith("SELECT users.sip_uri")]  # no read of its own
    (payload,) = heard.payloads
    del payload["reason"]
    return payload


def whole_rows_now(database: Database, agent_id: int, from_state: AgentState) -> dict[str, Any]:
    with database.sessions() as session:
        status = agents.status_of(session, agent_id)
        return whole_rows_payload(session, status, from_state=from_state)


def test_the_facts_the_agents_update_returns_make_the_whole_rows_payload(
    database: Database, agent: Agent
) -> None:
    """A change in a session that holds neither the user, the campaign nor the
    pause reason takes them from its UPDATE: the payload is the whole rows' one."""
    ready = pushed_by(database, lambda session: agents.go_ready(session, agent.id))
    assert ready == whole_rows_now(database, agent.id, AgentState.LOGGED_OUT)

    def pause_as_the_system(session: Session) -> None:
        agents.status_of(session, agent.id, lock=True)
        agents.change_state(session, agent.id, AgentState.PAUSED, reason="break")

    paused = pushed_by(database, pause_as_the_system)
    assert paused == whole_rows_now(database, agent.id, AgentState.READY)
    assert paused["pause_limit_minutes"] == 15 and paused["phone"] == "sip:1001@pbx.example.com"
    assert paused["calling_hours"]["timezone"] == "Asia/Tehran"

    left = pushed_by(database, lambda session: agents.log_out(session, agent.id))
    assert left == whole_rows_now(database, agent.id, AgentState.PAUSED)
