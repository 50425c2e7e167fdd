"""Customers ringing back, on SQLite and PostgreSQL: the caller is found by
either of their numbers however the network wrote it, an unknown number is
a new customer, a closed lead is not reopened by the call or its
disposition, and an answer no agent took books a callback for anyone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.events import CallAnswered, CallEnded
from callcenter.models import Call, Callback, Customer, Lead
from callcenter.services import calls, lead_lifecycle, ringback
from callcenter.services.disposition_codes import ChosenDisposition
from callcenter.states import (
    CallDirection,
    CallOutcome,
    DispositionCategory,
    LeadState,
)
from tests.factories import make_campaign, make_customer, make_lead


def test_the_caller_is_found_by_either_number_or_added(database: Database) -> None:
    now = utcnow()
    with database.unit_of_work() as session:
        campaign = make_campaign(session, caller_id="+982188776655")
        known = make_customer(session, phone_e164="+989121234567", phone2_e164="+989350001122")
        lead = make_lead(session, campaign, known, state=LeadState.RETRY, attempts=2)
        campaign_id, lead_id, known_id = campaign.id, lead.id, known.id
    with database.unit_of_work() as session:
        assert ringback.campaign_for_number(session, "02188776655").id == campaign_id  # type: ignore[union-attr]
        assert ringback.campaign_for_number(session, "02100000000") is None
        by_second = ringback.open_inbound_call(
            session, call_id="in-1", campaign_id=campaign_id, caller="00989350001122",
            dialer_id=None, now=now,
        )  # fmt: skip
    assert (by_second.customer_id, by_second.lead_id) == (known_id, lead_id)
    assert (by_second.attempt, by_second.new_customer) == (3, False)
    with database.unit_of_work() as session:
        unknown = ringback.open_inbound_call(
            session, call_id="in-2", campaign_id=campaign_id, caller="09197654321",
            dialer_id=None, now=now,
        )  # fmt: skip
        customer = session.get(Customer, unknown.customer_id)
        assert customer is not None and customer.phone_e164 == "+989197654321"
        lead = session.get(Lead, unknown.lead_id)
        assert lead is not None and lead.state is LeadState.DIALING
        call = session.get(Call, "in-2")
        assert call is not None and call.direction is CallDirection.INBOUND
    assert unknown.new_customer is True


def test_a_closed_lead_is_not_reopened_by_a_ring_back(database: Database) -> None:
    now = utcnow()
    with database.unit_of_work() as session:
        campaign = make_campaign(session, caller_id="+982188776655")
        customer = make_customer(session, phone_e164="+989121234567")
        lead = make_lead(session, campaign, customer, state=LeadState.SALE, attempts=4)
        campaign_id, lead_id = campaign.id, lead.id
    with database.unit_of_work() as session:
        found = ringback.open_inbound_call(
            session, call_id="in-3", campaign_id=campaign_id, caller="+989121234567",
            dialer_id=None, now=now,
        )  # fmt: skip
        assert found.attempt == 5
        settled = lead_lifecycle.settle_attempt(
            session,
            lead_id=lead_id,
            call_id="in-3",
            outcome=CallOutcome.ANSWERED,
            disposition=ChosenDisposition("not_interested", DispositionCategory.FINAL, None),
            actor_id=None,
            now=now,
        )
        assert settled.state is LeadState.SALE


def test_an_answer_no_agent_took_books_a_callback_for_anyone(database: Database) -> None:
    now = utcnow()
    with database.unit_of_work() as session:
        campaign = make_campaign(session, caller_id="+982188776655")
        customer = make_customer(session, phone_e164="+989121234567")
        lead = make_lead(
            session, campaign, customer, state=LeadState.RETRY,
            next_attempt_at=now + timedelta(days=3),
        )  # fmt: skip
        campaign_id, lead_id = campaign.id, lead.id
    with database.unit_of_work() as session:
        ringback.open_inbound_call(
            session, call_id="in-4", campaign_id=campaign_id, caller="09121234567",
            dialer_id=None, now=now,
        )  # fmt: skip
    with database.unit_of_work() as session:
        calls.apply_event(session, CallAnswered(call_id="in-4", occurred_at=now))
        calls.apply_event(
            session,
            CallEnded(call_id="in-4", outcome="abandoned", occurred_at=now + timedelta(seconds=20)),
        )
    with database.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.state is LeadState.CALLBACK
        (callback,) = session.scalars(select(Callback).where(Callback.lead_id == lead_id))
        assert callback.assigned_agent_id is None and callback.created_by_id is None
        assert callback.call_id == "in-4"
        assert lead.next_attempt_at is not None
        assert lead.next_attempt_at <= now + timedelta(seconds=21)
