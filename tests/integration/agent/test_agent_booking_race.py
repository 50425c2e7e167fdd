"""Two agents book the same calendar slot at the same instant: exactly one
meeting, the other gets a clear conflict (SQLite and PostgreSQL). And a
follow-up email is retried with backoff while the SMTP server is down."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.models import Appointment, CalendarSlot, Call, FollowUp, MeetingKind
from callcenter.services import appointments, follow_up
from callcenter.settings import SmtpSettings
from callcenter.states import CallState
from tests.factories import make_lead
from tests.integration.agent.agent_floor import build_floor
from tests.support import free_port


def _connected_call(session: Session, agent_id: int, lead_id: int, campaign_id: int) -> str:
    from callcenter.models import Lead

    lead = session.get(Lead, lead_id)
    assert lead is not None
    call = Call(
        id=uuid.uuid4().hex,
        campaign_id=campaign_id,
        lead_id=lead_id,
        customer_id=lead.customer_id,
        agent_id=agent_id,
        attempt=1,
        phone_e164=lead.customer.phone_e164,
        state=CallState.CONNECTED,
        dialed_at=utcnow(),
        connected_at=utcnow(),
    )
    session.add(call)
    session.commit()
    return call.id


def test_two_agents_booking_one_calendar_at_once(database: Database) -> None:
    with database.sessions() as session:
        floor = build_floor(session)
        from callcenter.models import Campaign

        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        second_lead = make_lead(session, campaign).id
        session.commit()
        first = _connected_call(session, floor.agent_id, floor.lead_id, floor.campaign_id)
        second = _connected_call(session, floor.agent_id, second_lead, floor.campaign_id)
        slot = appointments.propose(session, session.get(Call, first))[0]

    barrier = threading.Barrier(2)
    results: list[str] = []

    def book(call_id: str) -> None:
        barrier.wait(timeout=10)  # both units of work start at the same instant
        try:
            with database.unit_of_work() as session:
                call = session.get(Call, call_id)
                assert call is not None
                session.scalar(select(func.count(Appointment.id)))  # read first, as a handler does
                appointments.book(session, call, starts_at=slot.start, kind=MeetingKind.IN_PERSON)
            results.append("booked")
        except appointments.SlotTaken:
            results.append("slot-taken")

    threads = [threading.Thread(target=book, args=(call_id,)) for call_id in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["booked", "slot-taken"]
    with database.sessions() as session:
        assert session.scalar(select(func.count(Appointment.id))) == 1
        assert session.scalar(select(func.count()).select_from(CalendarSlot)) == 2


def test_follow_up_email_is_retried_with_backoff(database: Database) -> None:
    with database.sessions() as session:
        floor = build_floor(session)
        call_id = _connected_call(session, floor.agent_id, floor.lead_id, floor.campaign_id)
        call = session.get(Call, call_id)
        assert call is not None
        slot = appointments.propose(session, call)[0]
        appointments.book(session, call, starts_at=slot.start, kind=MeetingKind.ONLINE)
        session.commit()
    down = SmtpSettings(host="127.0.0.1", port=free_port())
    now = utcnow()
    assert follow_up.send_due(database, down, now=now) == 0
    with database.sessions() as session:
        email = session.scalar(select(FollowUp).where(FollowUp.kind == "email"))
        assert email is not None
        assert email.attempts == 1 and str(email.status) == "queued"
        assert email.next_attempt_at == now + timedelta(seconds=30)
        assert "ConnectionRefused" in email.last_error
    assert follow_up.send_due(database, down, now=now + timedelta(seconds=10)) == 0
    assert follow_up.retry_delay(3) == timedelta(minutes=2)
    for attempt in range(2, follow_up.MAX_ATTEMPTS + 1):
        follow_up.send_due(database, down, now=now + timedelta(hours=attempt))
    with database.sessions() as session:
        email = session.scalar(select(FollowUp).where(FollowUp.kind == "email"))
        assert email is not None and str(email.status) == "failed"
        assert email.attempts == follow_up.MAX_ATTEMPTS


def test_an_email_that_cannot_be_built_fails_for_good_and_the_next_ones_go(
    database: Database,
) -> None:
    """A CR/LF in a header makes the message unbuildable: it is dead-lettered
    at once, and the good email queued behind it is still sent."""
    from aiosmtpd.controller import Controller

    from tests.integration.agent.agent_floor import Inbox

    with database.sessions() as session:
        floor = build_floor(session)
        call_id = _connected_call(session, floor.agent_id, floor.lead_id, floor.campaign_id)
        call = session.get(Call, call_id)
        assert call is not None
        slot = appointments.propose(session, call)[0]
        appointments.book(session, call, starts_at=slot.start, kind=MeetingKind.ONLINE)
        good = session.scalar(select(FollowUp).where(FollowUp.kind == "email"))
        assert good is not None
        poison = FollowUp(
            appointment_id=good.appointment_id,
            kind=good.kind,
            locale=good.locale,
            to_address="sara@example.com\r\nBcc: everyone@example.net",
            subject=good.subject,
            next_attempt_at=utcnow() - timedelta(minutes=1),  # first in line
        )
        session.add(poison)
        session.commit()
        good_id, poison_id = good.id, poison.id
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        smtp = SmtpSettings(host="127.0.0.1", port=controller.port)
        assert follow_up.send_due(database, smtp) == 1
    finally:
        controller.stop()
    with database.sessions() as session:
        dead, sent = session.get(FollowUp, poison_id), session.get(FollowUp, good_id)
        assert dead is not None and sent is not None
        assert str(dead.status) == "failed" and "not retried" in dead.last_error
        assert str(sent.status) == "sent"
    assert len(inbox.messages) == 1 and "everyone@example.net" not in str(inbox.messages[0])
