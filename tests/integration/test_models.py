"""The data layer on a real SQLite file and a real PostgreSQL."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.models import (
    Appointment,
    AuditEntry,
    CalendarSlot,
    Call,
    DncEntry,
    MeetingKind,
)
from callcenter.states import CallState, Role
from tests.factories import make_campaign, make_customer, make_lead, make_user

TEHRAN = timezone(timedelta(hours=3, minutes=30))


def test_timestamps_are_stored_utc_and_come_back_aware(session: Session) -> None:
    campaign = make_campaign(session)
    lead = make_lead(session, campaign)
    local = datetime(2026, 3, 20, 23, 30, tzinfo=TEHRAN)  # Nowruz eve in Tehran
    session.add(
        Call(
            id="c1",
            campaign_id=campaign.id,
            lead_id=lead.id,
            customer_id=lead.customer_id,
            attempt=1,
            phone_e164="+989121234567",
            dialed_at=local,
        )
    )
    session.commit()
    session.expire_all()
    call = session.get(Call, "c1")
    assert call is not None
    assert call.dialed_at == local
    assert call.dialed_at.tzinfo is not None
    assert call.dialed_at.utcoffset() == timedelta(0)
    assert call.state is CallState.DIALING


def test_naive_datetimes_are_refused(session: Session) -> None:
    campaign = make_campaign(session)
    lead = make_lead(session, campaign)
    session.add(
        Call(
            id="c2",
            campaign_id=campaign.id,
            lead_id=lead.id,
            customer_id=lead.customer_id,
            attempt=1,
            phone_e164="+989121234567",
            dialed_at=datetime(2026, 1, 1, 10, 0),
        )
    )
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_one_customer_per_phone_number(session: Session) -> None:
    make_customer(session, phone_e164="+989121234567")
    with pytest.raises(IntegrityError):
        make_customer(session, phone_e164="+989121234567")


def test_a_lead_once_per_campaign_and_a_call_once_per_attempt(session: Session) -> None:
    campaign = make_campaign(session)
    customer = make_customer(session)
    lead = make_lead(session, campaign, customer)
    with session.begin_nested(), pytest.raises(IntegrityError):
        make_lead(session, campaign, customer)
    now = datetime.now(UTC)
    session.add(
        Call(
            id="a1",
            campaign_id=campaign.id,
            lead_id=lead.id,
            customer_id=customer.id,
            attempt=1,
            phone_e164=customer.phone_e164,
            dialed_at=now,
        )
    )
    session.flush()
    session.add(
        Call(
            id="a2",
            campaign_id=campaign.id,
            lead_id=lead.id,
            customer_id=customer.id,
            attempt=1,
            phone_e164=customer.phone_e164,
            dialed_at=now,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_global_dnc_entry_is_unique_but_campaign_entries_may_repeat_it(session: Session) -> None:
    first, second = make_campaign(session), make_campaign(session)
    session.add_all(
        [
            DncEntry(phone_e164="+989121111111"),
            DncEntry(phone_e164="+989121111111", campaign_id=first.id),
            DncEntry(phone_e164="+989121111111", campaign_id=second.id),
        ]
    )
    session.flush()
    session.add(DncEntry(phone_e164="+989121111111"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_a_calendar_slot_cannot_be_booked_twice(session: Session) -> None:
    agent = make_user(session, Role.AGENT)
    customer = make_customer(session)
    start = datetime(2026, 11, 24, 6, 30, tzinfo=UTC)
    appointments = []
    for _ in range(2):
        appointment = Appointment(
            customer_id=customer.id,
            booked_by_id=agent.id,
            owner_id=agent.id,
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
            kind=MeetingKind.ONLINE,
        )
        session.add(appointment)
        session.flush()
        appointments.append(appointment)
    session.add(
        CalendarSlot(owner_id=agent.id, slot_start=start, appointment_id=appointments[0].id)
    )
    session.flush()
    session.add(
        CalendarSlot(owner_id=agent.id, slot_start=start, appointment_id=appointments[1].id)
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_creating_users_is_audited(session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    make_user(session, Role.AGENT)
    actions = session.scalars(select(AuditEntry.action)).all()
    assert actions.count("user.created") == 2
    assert admin.password_hash.startswith("$argon2id$")
