"""Private iCalendar subscription URLs (Google Calendar, Outlook,
Thunderbird): one salesperson's meetings, or a whole team's.

Each meeting is one VEVENT with the UID of its e-mailed invite
(`follow_up.series`: a moved meeting keeps its first booking's UID and shows
at its new time) and a SEQUENCE that grows with every change of its status,
so a calendar that polls the feed updates the event, and shows a cancelled
meeting as STATUS:CANCELLED. Times carry their TZID
(the floor's zone, Asia/Tehran by default) with its VTIMEZONE."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from callcenter.db import utcnow
from callcenter.errors import N_, Forbidden, InvalidInput, NotFound
from callcenter.models import (
    Appointment,
    AppointmentStatus,
    AppointmentStatusChange,
    CalendarFeed,
    Team,
    User,
)
from callcenter.services import audit, follow_up
from callcenter.services.follow_up import appointment_uid

PAST_DAYS = 60
"""Meetings this far back stay in the feed (a salesperson looks back a little)."""
CANCELLED = frozenset({AppointmentStatus.CANCELLED, AppointmentStatus.RESCHEDULED})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed(
    session: Session, *, owner: User | None = None, team: Team | None = None, actor: User
) -> tuple[CalendarFeed, str]:
    """A new feed and its URL's token (shown once)."""
    if (owner is None) == (team is None):
        raise InvalidInput(N_("choose a salesperson or a team"), details={"field": "owner"})
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        token_sha256=_digest(token),
        owner_id=owner.id if owner is not None else None,
        team_id=team.id if team is not None else None,
        created_by_id=actor.id,
    )
    session.add(feed)
    session.flush()
    audit.record(
        session,
        "calendar_feed.created",
        actor=actor,
        target_type="calendar_feed",
        target_id=feed.id,
        details={"owner_id": feed.owner_id, "team_id": feed.team_id},
    )
    return feed, token


def revoke_feed(session: Session, feed_id: int, *, actor: User) -> CalendarFeed:
    feed = session.get(CalendarFeed, feed_id)
    if feed is None:
        raise NotFound(N_("no such calendar feed"), details={"feed_id": feed_id})
    if feed.revoked_at is None:
        feed.revoked_at = utcnow()
        session.flush()
        audit.record(
            session,
            "calendar_feed.revoked",
            actor=actor,
            target_type="calendar_feed",
            target_id=feed.id,
        )
    return feed


def own_feeds(session: Session, user: User) -> list[CalendarFeed]:
    """The salesperson's own links that still work (their meetings page)."""
    return list(
        session.scalars(
            select(CalendarFeed)
            .where(CalendarFeed.owner_id == user.id, CalendarFeed.revoked_at.is_(None))
            .order_by(CalendarFeed.id.desc())
        )
    )


def create_own_feed(session: Session, user: User) -> tuple[CalendarFeed, str]:
    """A salesperson makes a link to their own meetings (shown once)."""
    if not user.is_salesperson:
        raise Forbidden(N_("only a salesperson has a calendar of meetings"))
    return create_feed(session, owner=user, actor=user)


def revoke_own_feed(session: Session, feed_id: int, user: User) -> CalendarFeed:
    """A salesperson revokes one of their own links; anyone else's does not
    exist for them."""
    feed = session.get(CalendarFeed, feed_id)
    if feed is None or feed.owner_id != user.id:
        raise NotFound(N_("no such calendar feed"), details={"feed_id": feed_id})
    return revoke_feed(session, feed_id, actor=user)


def list_feeds(session: Session) -> list[CalendarFeed]:
    return list(session.scalars(select(CalendarFeed).order_by(CalendarFeed.id.desc())))


def feed_for_token(session: Session, token: str, *, now: datetime | None = None) -> CalendarFeed:
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token_sha256 == _digest(token)))
    if feed is None or feed.revoked_at is not None:
        raise NotFound(N_("no such calendar"))
    now = now or utcnow()
    if feed.last_fetched_at is None or now - feed.last_fetched_at >= timedelta(minutes=1):
        feed.last_fetched_at = now
        session.flush()
    return feed


def feed_name(session: Session, feed: CalendarFeed) -> str:
    if feed.owner_id is not None:
        owner = session.get(User, feed.owner_id)
        return owner.full_name if owner is not None else ""
    team = session.get(Team, feed.team_id)
    return team.name if team is not None else ""


def meetings(session: Session, feed: CalendarFeed, *, now: datetime) -> list[Appointment]:
    """The feed's meetings; a meeting moved to another time is shown once, at
    its latest time (its earlier rows share its UID: `follow_up.series`)."""
    later = aliased(Appointment)
    moved_on = exists().where(later.rescheduled_from_id == Appointment.id)
    query = select(Appointment).where(
        Appointment.starts_at >= now - timedelta(days=PAST_DAYS), ~moved_on
    )
    if feed.owner_id is not None:
        query = query.where(Appointment.owner_id == feed.owner_id)
    else:
        members = select(User.id).where(User.team_id == feed.team_id)
        query = query.where(Appointment.owner_id.in_(members))
    return list(session.scalars(query.order_by(Appointment.starts_at, Appointment.id)))


def render(
    session: Session, feed: CalendarFeed, *, timezone: str, now: datetime | None = None
) -> bytes:
    now = now or utcnow()
    found = meetings(session, feed, now=now)
    changes = _changes(session, [appointment.id for appointment in found])
    zone = ZoneInfo(timezone)
    calendar = Calendar()
    calendar.add("prodid", "-//callcenter//calendar feed//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", feed_name(session, feed))
    calendar.add("x-wr-timezone", timezone)
    calendar.add("refresh-interval", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT15M")
    for appointment in found:
        count, last_change = changes.get(appointment.id, (1, appointment.created_at))
        uid, sequence = appointment_uid(appointment.id), count - 1
        if appointment.rescheduled_from_id is not None:
            uid, sequence = follow_up.series(session, appointment)
        calendar.add_component(_event(appointment, uid, sequence, last_change, zone))
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def _changes(session: Session, ids: Sequence[int]) -> dict[int, tuple[int, datetime]]:
    """Per meeting: how many status rows it has, and the latest one's time."""
    if not ids:
        return {}
    query = (
        select(
            AppointmentStatusChange.appointment_id,
            func.count(AppointmentStatusChange.id),
            func.max(AppointmentStatusChange.at),
        )
        .where(AppointmentStatusChange.appointment_id.in_(list(ids)))
        .group_by(AppointmentStatusChange.appointment_id)
    )
    return {row[0]: (int(row[1]), row[2]) for row in session.execute(query)}


def _event(
    appointment: Appointment, uid: str, sequence: int, last_change: datetime, zone: ZoneInfo
) -> CalendarEvent:
    customer = appointment.customer
    name = " ".join(
        part for part in (customer.title, customer.first_name, customer.last_name) if part
    )
    event = CalendarEvent()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", last_change)
    event.add("last-modified", last_change)
    event.add("created", appointment.created_at)
    event.add("dtstart", appointment.starts_at.astimezone(zone))
    event.add("dtend", appointment.ends_at.astimezone(zone))
    event.add("summary", " — ".join(part for part in (name, customer.company) if part))
    event.add(
        "description",
        "\n".join(
            line
            for line in (customer.phone_e164, appointment.contact_number, appointment.meeting_link)
            if line
        ),
    )
    if appointment.location or appointment.meeting_link:
        event.add("location", appointment.location or appointment.meeting_link)
    if appointment.meeting_link:
        event.add("url", appointment.meeting_link)
    event.add("status", "CANCELLED" if appointment.status in CANCELLED else "CONFIRMED")
    return event
