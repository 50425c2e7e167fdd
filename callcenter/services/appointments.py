"""Booking meetings on a call (script steps 5-7) in the calendar of a
salesperson of the campaign's team, and the meeting's status changes.
Each booked meeting holds one `calendar_slots` row per 30 minutes it
covers; the primary key
(owner, slot start) makes a double booking impossible, even when two agents
book the same calendar at the same instant. (On SQLite the loser may
instead lose the write lock; its unit of work is retried, see services.retry,
and then meets the taken slot.)"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter import after_commit
from callcenter.bus import EventBus
from callcenter.db import utcnow
from callcenter.domain_events import AppointmentBooked
from callcenter.errors import N_, Conflict, InvalidInput
from callcenter.models import (
    Appointment,
    AppointmentStatus,
    AppointmentStatusChange,
    CalendarSlot,
    Call,
    Campaign,
    FollowUpNotice,
    MeetingKind,
    User,
    campaign_teams,
)
from callcenter.scheduling import (
    NoFreeSlotsError,
    OpenSlot,
    ReadBack,
    SlotRules,
    free_slots,
    free_slots_across,
    propose_slots_across,
    read_back,
)
from callcenter.services import reminders, sms, webhooks
from callcenter.states import APPOINTMENT_TRANSITIONS, CALENDAR_HOLDING_STATUSES, advance

SLOT_GRID = timedelta(minutes=30)
MAX_TEXT = 500


class SlotTaken(Conflict):
    error_id = "slot-taken"


def rules_for(campaign: Campaign) -> SlotRules:
    holidays: set[date] = set()
    for text in campaign.holidays or []:
        try:
            holidays.add(date.fromisoformat(str(text)))
        except ValueError:
            continue
    return SlotRules(holidays=frozenset(holidays), tz=ZoneInfo(campaign.timezone))


class Salesperson(NamedTuple):
    id: int
    full_name: str


# Built once: the screen pop reads these on every connect, and a statement
# built each time costs its construction and cache key (bench/call_events).
_SALESPEOPLE = (
    select(User.id, User.full_name)
    .where(
        User.is_salesperson.is_(True),
        User.is_active.is_(True),
        User.team_id.in_(
            select(campaign_teams.c.team_id).where(
                campaign_teams.c.campaign_id == bindparam("campaign_id")
            )
        ),
    )
    .order_by(User.full_name, User.id)
)
_BUSY = select(Appointment.owner_id, Appointment.starts_at, Appointment.ends_at).where(
    Appointment.owner_id.in_(bindparam("owners", expanding=True)),
    Appointment.status.in_(CALENDAR_HOLDING_STATUSES),
    Appointment.ends_at > bindparam("now"),
)


def salespeople(session: Session, campaign_id: int) -> list[Salesperson]:
    """Who can hold the campaign's meetings: the active salespeople of its teams."""
    return [
        Salesperson(*row) for row in session.execute(_SALESPEOPLE, {"campaign_id": campaign_id})
    ]


def calendar_owner_ids(
    session: Session,
    call: Call,
    salesperson_id: int | None = None,
    *,
    team: Sequence[Salesperson] | None = None,
) -> list[int]:
    """Whose calendars a meeting booked on this call may go in: the chosen
    salesperson; else every salesperson of the campaign's teams (`team`, when
    the caller read them already); the booking agent when the teams have none
    (a floor that books for itself)."""
    if call.agent_id is None:
        raise InvalidInput(N_("this call has no agent"))
    if team is None:
        team = salespeople(session, call.campaign_id)
    team_ids = [person.id for person in team]
    if salesperson_id is not None:
        if salesperson_id not in team_ids:
            raise InvalidInput(
                N_("choose a salesperson of this campaign's team"),
                details={"field": "salesperson_id"},
            )
        return [salesperson_id]
    return team_ids or [call.agent_id]


def parse_salesperson(value: object) -> int | None:
    """The booking form's choice: an id, or nothing for "whoever is free"."""
    if value in (None, "", "any"):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise InvalidInput(
            N_("choose a salesperson of this campaign's team"), details={"field": "salesperson_id"}
        ) from None


def busy_by_owner(
    session: Session, owner_ids: Iterable[int], now: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each calendar's meetings still to come (one query for the whole team)."""
    owners = list(owner_ids)
    busy: dict[int, list[tuple[datetime, datetime]]] = {owner: [] for owner in owners}
    for owner, start, end in session.execute(_BUSY, {"owners": owners, "now": now}):
        busy[owner].append((start, end))
    return busy


def propose(
    session: Session,
    call: Call,
    *,
    salesperson_id: int | None = None,
    now: datetime | None = None,
    team: Sequence[Salesperson] | None = None,
) -> tuple[OpenSlot, ...]:
    """The two slots to offer (alternative choice), each free in at least
    one calendar; empty if the calendars are full."""
    now = now or utcnow()
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    owners = calendar_owner_ids(session, call, salesperson_id, team=team)
    busy = busy_by_owner(session, owners, now)
    try:
        return propose_slots_across(now, busy, rules_for(campaign))
    except NoFreeSlotsError:
        return ()


def list_free(
    session: Session,
    call: Call,
    *,
    salesperson_id: int | None = None,
    now: datetime | None = None,
    limit: int = 24,
) -> list[OpenSlot]:
    now = now or utcnow()
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    busy = busy_by_owner(session, calendar_owner_ids(session, call, salesperson_id), now)
    return free_slots_across(now, busy, rules_for(campaign), limit=limit)


def booked_on_call(session: Session, call_id: str) -> Appointment | None:
    query = select(Appointment).where(
        Appointment.call_id == call_id,
        Appointment.status == AppointmentStatus.BOOKED,
    )
    return session.scalars(query.order_by(Appointment.id.desc())).first()


def parse_start(value: object) -> datetime:
    try:
        start = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(N_("choose a time"), details={"field": "starts_at"}) from None
    if start.tzinfo is None:
        raise InvalidInput(N_("the time has no zone"), details={"field": "starts_at"})
    return start.astimezone(UTC)


def parse_kind(value: object) -> MeetingKind:
    try:
        return MeetingKind(str(value))
    except ValueError:
        raise InvalidInput(N_("choose in person or online"), details={"field": "kind"}) from None


def book(
    session: Session,
    call: Call,
    *,
    starts_at: datetime,
    kind: MeetingKind,
    address: str = "",
    link: str = "",
    salesperson_id: int | None = None,
    now: datetime | None = None,
    bus: EventBus | None = None,
) -> Appointment:
    """Book the meeting for the call's customer and queue the follow-up. It
    goes in the chosen salesperson's calendar, or (none chosen) in the one
    of the team's free then with the fewest meetings to come. A meeting
    already booked on this call is replaced."""
    from callcenter.services import follow_up

    now = now or utcnow()
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    rules = rules_for(campaign)
    address, link = address.strip()[:MAX_TEXT], link.strip()[:MAX_TEXT]
    if kind is MeetingKind.ONLINE and link and not link.startswith(("https://", "http://")):
        raise InvalidInput(
            N_("the meeting link must start with https://"), details={"field": "link"}
        )
    check_bookable(starts_at, rules, now)
    owner_ids = calendar_owner_ids(session, call, salesperson_id)
    ends_at = starts_at + rules.duration
    previous = booked_on_call(session, call.id)
    if previous is not None:
        cancel(session, previous, by_id=call.agent_id, now=now)
        follow_up.queue_change_notices(
            session, previous, FollowUpNotice.CANCELLED, now=now, bus=bus
        )
    owner_id = choose_free_owner(busy_by_owner(session, owner_ids, now), starts_at, ends_at)
    agent = session.get(User, call.agent_id)
    appointment = Appointment(
        customer_id=call.customer_id,
        lead_id=call.lead_id,
        campaign_id=call.campaign_id,
        call_id=call.id,
        booked_by_id=call.agent_id,
        owner_id=owner_id,
        starts_at=starts_at,
        ends_at=ends_at,
        kind=kind,
        location=address if kind is MeetingKind.IN_PERSON else "",
        meeting_link=link if kind is MeetingKind.ONLINE else "",
        contact_number=(
            agent.direct_number if agent and agent.direct_number else campaign.caller_id
        )
        or "",
    )
    hold_calendar(session, appointment, by_id=call.agent_id, now=now)
    follow_up.queue_for_appointment(session, appointment, now=now, bus=bus)
    return appointment


def check_bookable(starts_at: datetime, rules: SlotRules, now: datetime) -> None:
    if starts_at not in {slot.start for slot in free_slots(now, (), rules, limit=2000)}:
        raise InvalidInput(
            N_("that time is not a bookable slot"), details={"starts_at": starts_at.isoformat()}
        )


def choose_free_owner(
    busy: dict[int, list[tuple[datetime, datetime]]], starts_at: datetime, ends_at: datetime
) -> int:
    """The calendar free for the whole meeting with the fewest meetings to
    come (spreads a team's load); SlotTaken when none is free."""
    free = [
        owner
        for owner, meetings in busy.items()
        if not any(start < ends_at and end > starts_at for start, end in meetings)
    ]
    if not free:
        raise SlotTaken(N_("that time was just booked; choose another"), details=_when(starts_at))
    return min(free, key=lambda owner: len(busy[owner]))


def change_status(
    session: Session,
    appointment: Appointment,
    new: AppointmentStatus,
    *,
    by_id: int | None,
    now: datetime,
) -> None:
    """Move the meeting through APPOINTMENT_TRANSITIONS, with its history row;
    a meeting that no longer holds its time frees its calendar slots."""
    old = appointment.status
    appointment.status = advance(
        APPOINTMENT_TRANSITIONS, old, new, subject=f"appointment {appointment.id}"
    )
    if new not in CALENDAR_HOLDING_STATUSES:
        session.execute(delete(CalendarSlot).where(CalendarSlot.appointment_id == appointment.id))
        reminders.drop_pending(session, appointment)
        sms.drop_for_appointment(session, appointment)
    _record_change(session, appointment, old, by_id=by_id, now=now)
    session.flush()
    if new is AppointmentStatus.CANCELLED:
        webhooks.enqueue(
            session, "appointment.cancelled", webhooks.appointment_data(appointment), now=now
        )


def _record_change(
    session: Session,
    appointment: Appointment,
    old: AppointmentStatus | None,
    *,
    by_id: int | None,
    now: datetime,
) -> None:
    session.add(
        AppointmentStatusChange(
            appointment_id=appointment.id,
            from_status=old,
            to_status=appointment.status,
            changed_by_id=by_id,
            at=now,
        )
    )


def hold_calendar(
    session: Session, appointment: Appointment, *, by_id: int | None, now: datetime
) -> None:
    """Add the new meeting with its calendar slots (SlotTaken when someone
    took one first) and its first history row."""
    slot_starts = _grid(appointment.starts_at, appointment.ends_at)
    try:
        with session.begin_nested():
            session.add(appointment)
            session.flush()
            session.add_all(
                CalendarSlot(
                    owner_id=appointment.owner_id, slot_start=start, appointment_id=appointment.id
                )
                for start in slot_starts
            )
            session.flush()
    except IntegrityError:
        raise SlotTaken(
            N_("that time was just booked by someone else; choose another"),
            details=_when(appointment.starts_at),
        ) from None
    if appointment.call_id:
        after_commit.record_event(session, AppointmentBooked(call_id=appointment.call_id))
    _record_change(session, appointment, None, by_id=by_id, now=now)
    webhooks.enqueue(session, "appointment.booked", webhooks.appointment_data(appointment), now=now)
    reminders.schedule(session, appointment, now=now)
    sms.queue_for_appointment(session, appointment, now=now)


def cancel(session: Session, appointment: Appointment, *, by_id: int | None, now: datetime) -> None:
    change_status(session, appointment, AppointmentStatus.CANCELLED, by_id=by_id, now=now)


def _grid(start: datetime, end: datetime) -> list[datetime]:
    slots, at = [], start
    while at < end:
        slots.append(at)
        at += SLOT_GRID
    return slots


def _when(start: datetime) -> dict[str, str]:
    return {"starts_at": start.isoformat()}


def read_back_for(appointment: Appointment, locale: str, tz: ZoneInfo) -> ReadBack:
    return read_back(
        appointment.starts_at,
        locale=locale,
        kind=str(appointment.kind),
        contact_number=appointment.contact_number,
        address=appointment.location,
        link=appointment.meeting_link,
        tz=tz,
    )
