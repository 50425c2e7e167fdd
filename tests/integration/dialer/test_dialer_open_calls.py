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
from tests.support import statements

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


def test_a_batch_is_one_insert_of_the_rows_open_call_writes(database: Database) -> None:
    """`open_calls` writes, in one INSERT a table, the rows `open_call` (one
    call, the ORM's way) writes for the same attempt."""
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        leads = [make_lead(session, campaign) for _ in range(4)]
        lead_ids = [lead.id for lead in leads]
        phones = {lead.id: lead.customer.phone_e164 for lead in leads}
        campaign_id = campaign.id
    claimed = lead_lifecycle.claim_many_counting_dnc(
        database, lead_ids, now=NOW, campaign_id=campaign_id
    )
    services = DatabaseServices(database)
    lead_of = {}
    for n, lead_id in enumerate(lead_ids[:1]):
        lead_of[f"single-{n}"] = lead_id
        services.open_call(
            f"single-{n}",
            ClaimedLead(lead_id, campaign_id, claimed[lead_id], phones[lead_id]),  # type: ignore[arg-type]
            agent_id=None,
            now=NOW,
        )
    opening = []
    for n, lead_id in enumerate(lead_ids[1:]):
        lead_of[f"batch-{n}"] = lead_id
        lead = ClaimedLead(lead_id, campaign_id, claimed[lead_id], phones[lead_id])  # type: ignore[arg-type]
        opening.append((f"batch-{n}", lead))

    with statements(database) as seen:
        services.open_calls(opening, now=NOW)

    writes = [s.split(" (")[0] for s in seen if s.startswith("INSERT")]
    assert writes == ["INSERT INTO calls", "INSERT INTO call_state_changes"]
    assert all(s.count("), (") == 2 for s in seen if s.startswith("INSERT"))  # three rows each
    with database.sessions() as session:
        calls_rows = {
            c.id: {
                column.key: getattr(c, column.key)
                for column in Call.__table__.columns
                if column.key not in ("id", "lead_id", "customer_id", "phone_e164")
            }
            for c in session.scalars(select(Call))
        }
        changes = {
            c.call_id: (c.from_state, c.to_state, c.at)
            for c in session.scalars(select(CallStateChange))
        }
    single = calls_rows.pop("single-0")
    assert calls_rows == {call_id: single for call_id in calls_rows}
    assert set(changes.values()) == {(None, CallState.DIALING, NOW)} and len(changes) == 4
