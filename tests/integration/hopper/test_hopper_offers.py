"""Each offer `select_dialable` makes carries its lead's facts as the rows
hold them: customer, number, time zone and when its window closes,
priority, attempts, when it fell due, and for a callback whether it is kept
for its agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.calling_windows import window_closes_at
from callcenter.db import Database
from callcenter.models import Callback, CallbackStatus, Lead
from callcenter.services import hopper_feed
from callcenter.services.campaigns import windows_of
from callcenter.states import LeadState, Role
from tests.factories import make_campaign, make_customer, make_lead, make_user
from tests.integration.dialer.floor import ALWAYS_OPEN

NOW = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)


def test_each_offer_carries_its_leads_facts(database: Database) -> None:
    with database.unit_of_work() as session:
        campaign = make_campaign(
            session, calling_windows=ALWAYS_OPEN, callback_open_after_minutes=10
        )
        agent = make_user(session, Role.AGENT)
        zones = ["America/New_York", "Europe/Berlin", "Asia/Tokyo"]
        leads: list[Lead] = []
        for number in range(9):
            customer = make_customer(session, timezone=zones[number % 3])
            fields: dict[str, object] = {"priority": number % 4 - 1, "attempts": number % 3}
            if number % 3 == 1:
                fields["next_attempt_at"] = NOW - timedelta(minutes=number)
            if number >= 6:
                fields["state"] = LeadState.CALLBACK
                fields["next_attempt_at"] = NOW - timedelta(minutes=number * 2)
            leads.append(make_lead(session, campaign, customer, **fields))
        for lead, due_minutes_ago in zip(leads[6:], [1, 30, 2], strict=True):
            session.add(
                Callback(
                    lead_id=lead.id,
                    customer_id=lead.customer_id,
                    campaign_id=campaign.id,
                    due_at=NOW - timedelta(minutes=due_minutes_ago),
                    assigned_agent_id=agent.id if lead is not leads[8] else None,
                    status=CallbackStatus.PENDING,
                )
            )
        session.flush()
        windows = windows_of(campaign)
        expected = {
            lead.id: hopper_feed.DialableLead(
                lead_id=lead.id,
                campaign_id=campaign.id,
                customer_id=lead.customer_id,
                phone_e164=lead.customer.phone_e164,
                timezone=lead.customer.timezone,
                priority=lead.priority,
                attempts=lead.attempts,
                due_at=lead.next_attempt_at or lead.created_at,
                closes_at=window_closes_at(NOW, lead.customer.timezone, windows),  # type: ignore[arg-type]
                is_callback=lead.state is LeadState.CALLBACK,
                # due within the campaign's 10 minutes: still kept for its agent
                agent_id=agent.id if lead in (leads[6],) else None,
            )
            for lead in leads
        }
        campaign_id = campaign.id

    with database.unit_of_work() as session:
        offers = hopper_feed.select_dialable(session, campaign_id, now=NOW)

    assert {offer.lead_id: offer for offer in offers} == expected
    assert offers == sorted(expected.values(), key=hopper_feed.DialableLead.sort_key)
    assert all(offer.due_at.tzinfo is not None for offer in offers)
