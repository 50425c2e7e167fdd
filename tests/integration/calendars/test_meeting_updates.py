"""A meeting moved or cancelled by its salesperson reaches the customer and
the salesperson as an e-mailed .ics update (a real SMTP server: aiosmtpd):
the invite's UID, a higher SEQUENCE, METHOD:REQUEST for the new time,
METHOD:CANCEL with STATUS:CANCELLED for a cancellation. The notices are
queued with the change and sent by the follow-up sender, not by the request."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from icalendar.cal import Component

from callcenter.db import Database
from callcenter.models import MeetingKind, User
from callcenter.services import appointments, calendar_feeds, follow_up, meetings
from callcenter.settings import SmtpSettings
from callcenter.states import Role
from tests.factories import make_user
from tests.integration.agent.agent_floor import Inbox, build_floor, connected_call_row
from tests.support import free_port

CUSTOMER = "sara.ahmadi@example.com"
SELLER = "closer@example.com"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, SmtpSettings]]:
    received = Inbox()
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    yield received, SmtpSettings(host="127.0.0.1", port=port, sender="meetings@example.com")
    controller.stop()


def _ics(email: Message) -> tuple[Calendar, Component]:
    (part,) = [p for p in email.iter_attachments() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(part.get_content())
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def _take(received: Inbox) -> dict[str, Message]:
    got = {str(email["To"]): email for email in received.messages}
    assert len(got) == len(received.messages), [m["To"] for m in received.messages]
    received.messages.clear()
    return got


def test_a_moved_then_cancelled_meeting_updates_both_calendars(
    database: Database, inbox: tuple[Inbox, SmtpSettings]
) -> None:
    received, smtp = inbox
    with database.unit_of_work() as session:
        floor = build_floor(session)
        agent = session.get(User, floor.agent_id)
        assert agent is not None
        closer = make_user(
            session, Role.AGENT, team=agent.team, full_name="Reza Closer", email=SELLER,
            locale="fa",
        )  # fmt: skip
        closer.is_salesperson = True
        session.flush()
        call = connected_call_row(session, floor)
        first, later = appointments.list_free(session, call, salesperson_id=closer.id)[0:8:7]
        meeting = appointments.book(
            session, call, starts_at=first.start, kind=MeetingKind.IN_PERSON,
            address="Valiasr St 12", salesperson_id=closer.id,
        )  # fmt: skip
        meeting_id, closer_id = meeting.id, closer.id

    assert follow_up.send_due(database, smtp) == 1
    invite = _take(received)[CUSTOMER]
    invited_calendar, invited = _ics(invite)
    uid = str(invited["UID"])
    assert str(invited_calendar["METHOD"]) == "REQUEST"

    with database.unit_of_work() as session:
        closer = session.get(User, closer_id)
        assert closer is not None
        form = meetings.parse_outcome({"outcome": "rescheduled", "new_start": later.start})
        moved = meetings.record_outcome(session, meeting_id, form, actor=closer)
        moved_id = moved.id
    assert received.messages == []  # queued with the change, not sent by it

    assert follow_up.send_due(database, smtp) == 2
    mails = _take(received)
    assert set(mails) == {CUSTOMER, SELLER}
    sequences = {}
    for to, email in mails.items():
        calendar, event = _ics(email)
        assert str(calendar["METHOD"]) == "REQUEST", to
        assert str(event["UID"]) == uid, to
        assert event.decoded("DTSTART") == later.start, to
        assert str(event["STATUS"]) == "CONFIRMED"
        assert event["SEQUENCE"] > invited["SEQUENCE"], to
        sequences[to] = event["SEQUENCE"]
    assert sequences[CUSTOMER] == sequences[SELLER]
    assert str(mails[SELLER]["Subject"]).strip().startswith("جلسه جابه‌جا شد")
    assert "Valiasr St 12" in mails[SELLER].get_body(("plain",)).get_content()

    with database.unit_of_work() as session:
        closer = session.get(User, closer_id)
        assert closer is not None
        cancel = meetings.parse_outcome({"outcome": "cancelled"})
        meetings.record_outcome(session, moved_id, cancel, actor=closer)
    assert received.messages == []

    assert follow_up.send_due(database, smtp) == 2
    mails = _take(received)
    assert set(mails) == {CUSTOMER, SELLER}
    for to, email in mails.items():
        calendar, event = _ics(email)
        assert str(calendar["METHOD"]) == "CANCEL", to
        assert str(event["STATUS"]) == "CANCELLED", to
        assert str(event["UID"]) == uid, to
        assert event["SEQUENCE"] > sequences[to], to
    assert str(mails[CUSTOMER]["Subject"]).strip().startswith("Cancelled: Confirming")

    # The salesperson's feed shows the meeting once, under the same UID, cancelled.
    with database.unit_of_work() as session:
        admin = make_user(session, Role.ADMIN)
        closer = session.get(User, closer_id)
        assert closer is not None
        feed, _token = calendar_feeds.create_feed(session, owner=closer, actor=admin)
        feed_calendar = Calendar.from_ical(
            calendar_feeds.render(session, feed, timezone="Asia/Tehran")
        )
    (shown,) = feed_calendar.walk("VEVENT")
    assert (str(shown["UID"]), str(shown["STATUS"])) == (uid, "CANCELLED")
    assert shown["SEQUENCE"] == event["SEQUENCE"]
