"""The script's read-back gives the agent's direct number; without one, the
campaign's caller ID (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.models import Call, Campaign, Lead, User
from callcenter.services import workstation
from callcenter.states import CallState
from tests.integration.agent.agent_floor import build_floor


def _step_prompts(session: Session, call: Call) -> str:
    popped = workstation.screen_pop(session, call, now=utcnow())
    return "\n".join(step["prompt"] for step in popped["script"]["steps"])


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_read_back_gives_the_agents_direct_number(session: Session, locale: str) -> None:
    floor = build_floor(session, locale=locale, customer_locale=locale)
    lead = session.get(Lead, floor.lead_id)
    assert lead is not None
    campaign = session.get(Campaign, floor.campaign_id)
    assert campaign is not None
    campaign.caller_id = "+982155554444"
    call = Call(
        id=uuid.uuid4().hex,
        campaign_id=floor.campaign_id,
        lead_id=lead.id,
        customer_id=lead.customer_id,
        agent_id=floor.agent_id,
        attempt=1,
        phone_e164=lead.customer.phone_e164,
        state=CallState.CONNECTED,
        dialed_at=utcnow(),
        connected_at=utcnow(),
    )
    session.add(call)
    session.flush()
    direct = "۰۲۱ ۸۸۷۷ ۶۶۵۵" if locale == "fa" else "021 8877 6655"
    caller_id = "۰۲۱ ۵۵۵۵ ۴۴۴۴" if locale == "fa" else "021 5555 4444"

    with_direct = _step_prompts(session, call)
    assert direct in with_direct and caller_id not in with_direct

    agent = session.get(User, floor.agent_id)
    assert agent is not None
    agent.direct_number = None
    session.flush()
    without = _step_prompts(session, call)
    assert caller_id in without and direct not in without
