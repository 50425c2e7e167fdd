"""Calendar feeds: an admin makes a private link for a salesperson or a team;
the feed parses with icalendar, keeps the invite's UID, bumps SEQUENCE on
every change, shows a cancellation as STATUS:CANCELLED, and puts the times
in Asia/Tehran."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy.orm import Session

from callcenter.models import Appointment, AppointmentStatus, MeetingKind, User
from callcenter.services import appointments
from callcenter.services.follow_up import appointment_uid
from callcenter.states import Role
from tests.factories import log_in, make_campaign, make_lead, make_team, make_user

MEETING = datetime(2026, 12, 20, 6, 30, tzinfo=UTC)  # 10:00 in Tehran


def _salesperson(session: Session, **fields: object) -> User:
    user = make_user(session, Role.AGENT, **fields)
    user.is_salesperson = True
    session.flush()
    return user


def _book(session: Session, owner: User, starts_at: datetime = MEETING) -> Appointment:
    campaign = make_campaign(session)
    lead = make_lead(session, campaign)
    appointment = Appointment(
        customer_id=lead.customer_id,
        lead_id=lead.id,
        campaign_id=campaign.id,
        booked_by_id=owner.id,
        owner_id=owner.id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=30),
        kind=MeetingKind.IN_PERSON,
        location="تهران، خیابان ولیعصر",
    )
    appointments.hold_calendar(
        session, appointment, by_id=owner.id, now=MEETING - timedelta(days=3)
    )
    session.commit()
    return appointment


def _make_link(client: FlaskClient, **choice: str) -> str:
    shown = client.post("/admin/calendar-feeds", data=choice)
    assert shown.status_code == 200, shown.text
    match = re.search(r'id="calendar-url" dir="ltr">([^<]+)<', shown.text)
    assert match, shown.text
    return match.group(1).removeprefix("http://localhost")


def _events(client: FlaskClient, path: str) -> list:
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    assert any(tz["TZID"] == "Asia/Tehran" for tz in calendar.walk("VTIMEZONE"))
    return list(calendar.walk("VEVENT"))


def test_a_salespersons_feed_follows_the_meeting_to_its_cancellation(
    client: FlaskClient, app_session: Session
) -> None:
    seller = _salesperson(app_session)
    other = _salesperson(app_session)
    admin = make_user(app_session, Role.ADMIN)
    meeting = _book(app_session, seller)
    _book(app_session, other, MEETING + timedelta(hours=2))
    log_in(client, admin.username)
    link = _make_link(client, owner=str(seller.id))

    (event,) = _events(client, link)
    assert str(event["UID"]) == appointment_uid(meeting.id)
    assert event["SEQUENCE"] == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    start = event.decoded("DTSTART")
    assert str(start.tzinfo) == "Asia/Tehran"
    assert (start.hour, start.minute) == (10, 0)
    assert start == MEETING
    assert "ولیعصر" in str(event["LOCATION"])

    appointments.cancel(app_session, meeting, by_id=seller.id, now=MEETING - timedelta(days=1))
    app_session.commit()
    (cancelled,) = _events(client, link)
    assert str(cancelled["UID"]) == appointment_uid(meeting.id)
    assert cancelled["SEQUENCE"] == 1
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled.decoded("DTSTAMP") > event.decoded("DTSTAMP")


def test_a_teams_feed_holds_its_members_meetings_and_a_revoked_link_is_gone(
    client: FlaskClient, app_session: Session
) -> None:
    team = make_team(app_session)
    member = _salesperson(app_session, team=team)
    outsider = _salesperson(app_session)
    admin = make_user(app_session, Role.ADMIN)
    mine = _book(app_session, member)
    _book(app_session, outsider, MEETING + timedelta(hours=1))
    app_session.refresh(mine)
    assert mine.status is AppointmentStatus.BOOKED
    log_in(client, admin.username)
    link = _make_link(client, team=str(team.id))

    assert [str(e["UID"]) for e in _events(client, link)] == [appointment_uid(mine.id)]

    listing = client.get("/admin/calendar-feeds").text
    feed_id = re.search(r'data-feed-id="(\d+)"', listing)
    assert feed_id
    client.post(f"/admin/calendar-feeds/{feed_id.group(1)}/revoke")
    assert client.get(link).status_code == 404
    assert client.get("/calendars/made-up.ics").status_code == 404


def test_a_link_is_for_one_salesperson_or_one_team(
    client: FlaskClient, app_session: Session
) -> None:
    admin = make_user(app_session, Role.ADMIN)
    app_session.commit()
    log_in(client, admin.username)
    assert client.post("/admin/calendar-feeds", data={}).status_code == 422
