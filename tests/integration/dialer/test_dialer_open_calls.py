"""The calls rows of a tick's launches, written together before they are dialed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import Call, CallStateChange
from callcenter.services import lead_lifecycle
from callcenter.states import CallState
from dialer.db_port import DatabaseServices
from dialer.ports import ClaimedLead
from tests.factories import make_campaign, make_lead

NOW = datetime(2025, 1, 4, 8, 0, tzinfo=UTC)


def test_the_rows_of_a_batch_are_written_as_one_at_a_time(database: Database) -> None:
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        leads = [make_lead(session, campaign) for _ in range(3)]
        lead_ids = [lead.id for lead in leads]
        phones = [lead.customer.phone_e164 for lead in leads]
        customers = [lead.customer_id for lead in leads]
        campaign_id, script_version_id = campaign.id, campaign.script_version_id
    claimed = lead_lifecycle.claim_many_counting_dnc(
        database, lead_ids, now=NOW, campaign_id=campaign_id
    )
    attempts = {lead_id: n for lead_id, n in claimed.items() if isinstance(n, int)}
    services = DatabaseServices(database)
    opening = [
        (f"call-{n}", ClaimedLead(lead_id, campaign_id, attempts[lead_id], phone))
        for n, (lead_id, phone) in enumerate(zip(lead_ids, phones, strict=True))
    ]

    services.open_calls(opening, now=NOW)

    with database.sessions() as session:
        calls = session.scalars(select(Call).order_by(Call.id)).all()
        assert [
            (c.id, c.lead_id, c.customer_id, c.attempt, c.phone_e164, c.state, c.dialed_at)
            for c in calls
        ] == [
            (f"call-{n}", lead_id, customer, 1, phone, CallState.DIALING, NOW)
            for n, (lead_id, customer, phone) in enumerate(
                zip(lead_ids, customers, phones, strict=True)
            )
        ]
        assert {(c.dialer_id, c.agent_id, c.is_preview, c.is_manual) for c in calls} == {
            (services.dialer_id, None, False, False)
        }
        assert {c.script_version_id for c in calls} == {script_version_id}
        changes = session.scalars(select(CallStateChange).order_by(CallStateChange.call_id)).all()
        assert [(c.call_id, c.from_state, c.to_state, c.at) for c in changes] == [
            (f"call-{n}", None, CallState.DIALING, NOW) for n in range(3)
        ]
