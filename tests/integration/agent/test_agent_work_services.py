"""The agent's own work on SQLite and PostgreSQL: search (names, numbers,
wildcards typed as text), the customer edit, the callbacks' alert taken once
under concurrent sweeps, and the manual dial's lead rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.errors import Conflict
from callcenter.models import AuditEntry, Callback, Campaign, Lead
from callcenter.services import (
    agents,
    customer_details,
    lead_search,
    manual_dial,
    my_callbacks,
    phone_legs,
)
from callcenter.states import LeadState
from tests.factories import make_customer, make_lead
from tests.integration.agent.agent_floor import Floor, build_floor
from tests.integration.dialer.floor import ALWAYS_OPEN


@pytest.fixture
def work_floor(database: Database) -> Floor:
    with database.sessions() as session:
        return build_floor(session)


def test_search_by_name_number_and_text_that_looks_like_a_wildcard(
    database: Database, work_floor: Floor
) -> None:
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, work_floor.campaign_id)
        assert campaign is not None
        make_lead(session, campaign, make_customer(session, last_name="100%_Sure"))
    with database.sessions() as session:
        names = lead_search.search(session, work_floor.agent_id, "SARA AHM")
        assert {row["customer_id"] for row in names} == {work_floor.customer_id}
        literal = lead_search.search(session, work_floor.agent_id, "0%_s")
        assert [row["name"] for row in literal] == ["Ms Sara 100%_Sure"]
        assert lead_search.search(session, work_floor.agent_id, "%%") == []


def test_editing_keeps_what_was_not_sent_and_audits_only_changes(
    database: Database, work_floor: Floor
) -> None:
    with database.unit_of_work() as session:
        customer = customer_details.update(
            session, work_floor.agent_id, work_floor.customer_id, {"last_name": "Ahmadi-Rad"}
        )
        assert (customer.first_name, customer.last_name) == ("Sara", "Ahmadi-Rad")
        assert customer.email == "sara.ahmadi@example.com"
        unchanged = customer_details.update(
            session, work_floor.agent_id, work_floor.customer_id, {"last_name": "Ahmadi-Rad"}
        )
        assert unchanged.last_name == "Ahmadi-Rad"
    with database.sessions() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.updated")
        ).all()
        assert len(rows) == 1


def test_a_due_callback_is_announced_once(database: Database, work_floor: Floor) -> None:
    with database.unit_of_work() as session:
        lead = session.get(Lead, work_floor.lead_id)
        assert lead is not None
        session.add(
            Callback(
                lead_id=lead.id,
                customer_id=lead.customer_id,
                campaign_id=lead.campaign_id,
                due_at=utcnow() - timedelta(seconds=5),
                assigned_agent_id=work_floor.agent_id,
                created_by_id=work_floor.agent_id,
            )
        )
    with database.unit_of_work() as first, database.unit_of_work() as second:
        told = my_callbacks.alert_due(first)
        told += my_callbacks.alert_due(second) if database.url.startswith("postgresql") else 0
    assert told == 1
    with database.unit_of_work() as session:
        assert my_callbacks.alert_due(session) == 0


@pytest.mark.parametrize(
    ("state", "refused"),
    [
        (LeadState.APPOINTMENT, "meeting or a sale"),
        (LeadState.DIALING, "being called"),
        (LeadState.INVALID, "closed"),
    ],
)
def test_a_closed_or_busy_lead_is_not_dialed_by_hand(
    database: Database, work_floor: Floor, state: LeadState, refused: str
) -> None:
    with database.unit_of_work() as session:
        lead = session.get(Lead, work_floor.lead_id)
        assert lead is not None
        lead.state = state
        campaign = session.get(Campaign, work_floor.campaign_id)
        assert campaign is not None
        campaign.calling_windows = ALWAYS_OPEN
        agents.join_campaign(session, work_floor.agent_id, work_floor.campaign_id, "1001")
        agents.go_ready(session, work_floor.agent_id)
        assert phone_legs.calling(session, work_floor.agent_id, "leg-1")
        phone_legs.answered(session, work_floor.agent_id, "leg-1")
    with database.unit_of_work() as session, pytest.raises(Conflict) as caught:
        manual_dial.dial_customer(session, work_floor.agent_id, work_floor.customer_id, bus=None)
    assert refused in caught.value.message
    with database.sessions() as session:
        assert str(agents.status_of(session, work_floor.agent_id).state) == "ready"
