"""Reminders before a meeting: the campaign's schedule, e-mailed on the
follow-up e-mail's SMTP path (a real SMTP server: aiosmtpd), dropped when the
meeting is cancelled, retried when the server is away."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.errors import InvalidInput
from callcenter.models import Appointment, AppointmentReminder, DeliveryStatus, MeetingKind
from callcenter.services import appointments, campaigns, reminders
from callcenter.services.follow_up import appointment_uid
from callcenter.settings import SmtpSettings
from callcenter.states import Role
from tests.factories import make_campaign, make_customer, make_lead, make_user
from tests.integration.agent.agent_floor import Inbox
from tests.support import free_port

BOOKED_AT = datetime(2026, 12, 17, 8, 0, tzinfo=UTC)
MEETING = datetime(2026, 12, 20, 6, 30, tzinfo=UTC)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, SmtpSettings]]:
    received = Inbox()
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    yield received, SmtpSettings(host="127.0.0.1", port=port, sender="meetings@example.com")
    controller.stop()


def _book(session: Session, reminder_minutes: list[int]) -> Appointment:
    campaign = make_campaign(session, reminder_minutes=reminder_minutes)
    customer = make_customer(session, email="sara@example.com", locale="fa", title="خانم")
    lead = make_lead(session, campaign, customer)
    agent = make_user(session, Role.AGENT)
    appointment = Appointment(
        customer_id=customer.id,
        lead_id=lead.id,
        campaign_id=campaign.id,
        booked_by_id=agent.id,
        owner_id=agent.id,
        starts_at=MEETING,
        ends_at=MEETING + timedelta(minutes=30),
        kind=MeetingKind.IN_PERSON,
        location="تهران",
    )
    appointments.hold_calendar(session, appointment, by_id=agent.id, now=BOOKED_AT)
    session.commit()
    return appointment


def _reminders(database: Database) -> list[AppointmentReminder]:
    with database.read_sessions() as session:
        query = select(AppointmentReminder).order_by(AppointmentReminder.minutes_before.desc())
        return list(session.scalars(query))


def test_reminders_go_out_on_the_campaigns_schedule(
    sqlite_database: Database, inbox: tuple[Inbox, SmtpSettings]
) -> None:
    received, smtp = inbox
    with sqlite_database.unit_of_work() as session:
        meeting = _book(session, [60, 1440, 10080])  # a week before: already past at booking
    assert [(r.minutes_before, r.next_attempt_at) for r in _reminders(sqlite_database)] == [
        (1440, MEETING - timedelta(days=1)),
        (60, MEETING - timedelta(hours=1)),
    ]

    day_before = MEETING - timedelta(days=1) + timedelta(seconds=1)
    assert reminders.send_due(sqlite_database, smtp, now=day_before) == 1
    assert reminders.send_due(sqlite_database, smtp, now=day_before) == 0

    (email,) = received.messages
    assert email["To"] == "sara@example.com"
    assert email["Subject"].startswith("یادآوری: ")
    (invite,) = [part for part in email.iter_attachments() if part.get_filename() == "invite.ics"]
    (event,) = Calendar.from_ical(invite.get_content()).walk("VEVENT")
    assert str(event["UID"]) == appointment_uid(meeting.id)
    statuses = [r.status for r in _reminders(sqlite_database)]
    assert statuses == [DeliveryStatus.SENT, DeliveryStatus.QUEUED]


def test_a_cancelled_meeting_sends_no_more_reminders(
    sqlite_database: Database, inbox: tuple[Inbox, SmtpSettings]
) -> None:
    received, smtp = inbox
    with sqlite_database.unit_of_work() as session:
        meeting = _book(session, [60])
        assert len(_reminders(sqlite_database)) == 1
        appointments.cancel(session, meeting, by_id=None, now=MEETING - timedelta(hours=5))
    assert _reminders(sqlite_database) == []
    assert reminders.send_due(sqlite_database, smtp, now=MEETING) == 0
    assert received.messages == []


def test_a_reminder_is_tried_again_when_the_mail_server_is_away(
    sqlite_database: Database,
) -> None:
    away = SmtpSettings(host="127.0.0.1", port=free_port())
    with sqlite_database.unit_of_work() as session:
        _book(session, [60])
    hour_before = MEETING - timedelta(hours=1)
    assert reminders.send_due(sqlite_database, away, now=hour_before) == 0
    (reminder,) = _reminders(sqlite_database)
    assert (reminder.status, reminder.attempts) == (DeliveryStatus.QUEUED, 1)
    assert reminder.next_attempt_at is not None and reminder.next_attempt_at > hour_before
    assert "ConnectionRefusedError" in reminder.last_error


def test_the_campaign_sets_the_schedule(sqlite_database: Database) -> None:
    with sqlite_database.sessions() as session:
        campaign = make_campaign(session)
        admin = make_user(session, Role.ADMIN)
        campaigns.update_campaign(session, campaign, actor=admin, reminder_minutes=["60", 1440, 60])
        assert campaign.reminder_minutes == [1440, 60]
        with pytest.raises(InvalidInput):
            campaigns.update_campaign(session, campaign, actor=admin, reminder_minutes=[1])
