"""Booking meetings on a call (script steps 5-7). Each booked meeting holds
one `calendar_slots` row per 30 minutes it covers; the primary key
(owner, slot start) makes a double booking impossible, even when two agents
book the same calendar at the same instant. (On SQLite the loser may
instead lose the write lock; its unit of work is retried, see services.retry,
and then meets the taken slot.)"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.bus import EventBus
from callcenter.db import utcnow
from callcenter.errors import N_, Conflict, InvalidInput
from callcenter.models import (
    Appointment,
    AppointmentStatus,
    CalendarSlot,
    Call,
    Campaign,
    MeetingKind,
    User,
)
from callcenter.scheduling import ReadBack, Slot, SlotRules, free_slots, propose_slots, read_back
from callcenter.scheduling.slots import NoFreeSlotsError

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


def calendar_owner_id(call: Call) -> int:
    """Whose calendar the meeting goes in: the agent who books it."""
    if call.agent_id is None:
        raise InvalidInput(N_("this call has no agent"))
    return call.agent_id


def busy_intervals(
    session: Session, owner_id: int, now: datetime
) -> list[tuple[datetime, datetime]]:
    query = select(Appointment.starts_at, Appointment.ends_at).where(
        Appointment.owner_id == owner_id,
        Appointment.status == AppointmentStatus.BOOKED,
        Appointment.ends_at > now,
    )
    return [(start, end) for start, end in session.execute(query)]


def propose(session: Session, call: Call, *, now: datetime | None = None) -> tuple[Slot, ...]:
    """The two slots to offer (alternative choice); empty if the calendar is full."""
    now = now or utcnow()
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    busy = busy_intervals(session, calendar_owner_id(call), now)
    try:
        return propose_slots(now, busy, rules_for(campaign))
    except NoFreeSlotsError:
        return ()


def list_free(
    session: Session, call: Call, *, now: datetime | None = None, limit: int = 24
) -> list[Slot]:
    now = now or utcnow()
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    busy = busy_intervals(session, calendar_owner_id(call), now)
    return free_slots(now, busy, rules_for(campaign), limit=limit)


def booked_on_call(session: Session, call_id: str) -> Appointment | None:
    query = select(Appointment).where(
        Appointment.call_id == call_id, Appointment.status == AppointmentStatus.BOOKED
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
    now: datetime | None = None,
    bus: EventBus | None = None,
) -> Appointment:
    """Book the meeting for the call's customer in the agent's calendar and
    queue the follow-up. A meeting already booked on this call is replaced."""
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
    if starts_at not in {slot.start for slot in free_slots(now, (), rules, limit=2000)}:
        raise InvalidInput(
            N_("that time is not a bookable slot"), details={"starts_at": starts_at.isoformat()}
        )
    owner_id = calendar_owner_id(call)
    ends_at = starts_at + rules.duration
    previous = booked_on_call(session, call.id)
    if previous is not None:
        cancel(session, previous)
    if any(
        start < ends_at and end > starts_at for start, end in busy_intervals(session, owner_id, now)
    ):
        raise SlotTaken(N_("that time was just booked; choose another"), details=_when(starts_at))
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
        contact_number=(agent.phone if agent and agent.phone else campaign.caller_id) or "",
    )
    _insert_holding_slots(session, appointment, _grid(starts_at, ends_at))
    follow_up.queue_for_appointment(session, appointment, now=now, bus=bus)
    return appointment


def _insert_holding_slots(
    session: Session, appointment: Appointment, slot_starts: Iterable[datetime]
) -> None:
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


def cancel(session: Session, appointment: Appointment) -> None:
    appointment.status = AppointmentStatus.CANCELLED
    session.execute(delete(CalendarSlot).where(CalendarSlot.appointment_id == appointment.id))
    session.flush()


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
