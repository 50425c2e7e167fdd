"""Overdue callbacks and their reassignment (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from callcenter.errors import Conflict
from callcenter.models import Callback, CallbackStatus, Campaign, Lead
from callcenter.services import callback_desk
from callcenter.states import LeadState, Role
from tests.factories import make_campaign, make_lead, make_user

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _callback(
    session: Session, campaign: Campaign, agent_id: int, due: datetime, **lead: object
) -> Callback:
    made = make_lead(
        session, campaign, state=lead.pop("state", LeadState.CALLBACK), next_attempt_at=due
    )
    callback = Callback(
        lead_id=made.id,
        customer_id=made.customer_id,
        campaign_id=campaign.id,
        due_at=due,
        assigned_agent_id=agent_id,
        created_by_id=agent_id,
    )
    session.add(callback)
    session.flush()
    return callback


def test_only_late_waiting_callbacks_are_overdue(session: Session) -> None:
    campaign, other = make_campaign(session), make_campaign(session)
    agent = make_user(session, Role.AGENT, full_name="Nina Karimi")
    late = _callback(session, campaign, agent.id, NOW - timedelta(hours=3))
    later = _callback(session, campaign, agent.id, NOW - timedelta(minutes=30))
    _callback(session, campaign, agent.id, NOW - timedelta(minutes=2))  # within the grace
    _callback(session, campaign, agent.id, NOW - timedelta(hours=1), state=LeadState.DIALING)
    done = _callback(session, campaign, agent.id, NOW - timedelta(hours=2))
    done.status = CallbackStatus.DONE
    _callback(session, other, agent.id, NOW - timedelta(hours=5))
    session.flush()

    shown = callback_desk.overdue(session, [campaign.id], now=NOW)

    assert [row["callback_id"] for row in shown] == [late.id, later.id]
    assert shown[0]["agent_name"] == "Nina Karimi"
    assert shown[0]["customer"] == "Ms Sara Ahmadi"
    assert callback_desk.overdue(session, [], now=NOW) == []


def test_reassign_refuses_a_callback_that_is_not_waiting(session: Session) -> None:
    campaign = make_campaign(session)
    agent, supervisor = make_user(session, Role.AGENT), make_user(session, Role.SUPERVISOR)
    called = _callback(session, campaign, agent.id, NOW - timedelta(hours=1))
    lead = session.get(Lead, called.lead_id)
    assert lead is not None
    lead.state = LeadState.DIALING
    with pytest.raises(Conflict):
        callback_desk.reassign(session, called, None, actor=supervisor, now=NOW)
    cancelled = _callback(session, campaign, agent.id, NOW - timedelta(hours=1))
    cancelled.status = CallbackStatus.CANCELLED
    with pytest.raises(Conflict):
        callback_desk.reassign(session, cancelled, None, actor=supervisor, now=NOW)
    waiting = _callback(session, campaign, agent.id, NOW - timedelta(hours=1))
    callback_desk.reassign(session, waiting, None, actor=supervisor, now=NOW)
    assert (waiting.assigned_agent_id, waiting.due_at) == (None, NOW)
