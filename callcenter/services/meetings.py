"""The salesperson's side of a booked meeting: their meetings, and what
happened (held, no-show, moved to another time, cancelled; once held, sold
with its amount or not sold). Every outcome is a status change of the
meeting (APPOINTMENT_TRANSITIONS) and an audit entry; a sale settles the
lead as a sale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callcenter.bus import EventBus
from callcenter.dates import format_datetime, localize_digits, to_ascii_digits
from callcenter.db import utcnow
from callcenter.errors import N_, Forbidden, InvalidInput, NotFound
from callcenter.models import (
    Appointment,
    AppointmentStatus,
    Campaign,
    Customer,
    FollowUpNotice,
    Lead,
    LeadStateChange,
    User,
)
from callcenter.scheduling import free_slots
from callcenter.services import appointments, audit, follow_up
from callcenter.states import LEAD_TRANSITIONS, LeadState, Role, advance

RECENT = timedelta(days=14)
MAX_NOTE = 1000
MAX_AMOUNT = Decimal(10) ** 15


class Outcome(StrEnum):
    """What the salesperson records; each is one or two status changes."""

    HELD = "held"
    NO_SHOW = "no_show"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    SOLD = "sold"
    NOT_SOLD = "not_sold"


S = AppointmentStatus
_STATUS_PATH: dict[Outcome, tuple[AppointmentStatus, ...]] = {
    Outcome.HELD: (S.HELD,),
    Outcome.NO_SHOW: (S.NO_SHOW,),
    Outcome.RESCHEDULED: (S.RESCHEDULED,),
    Outcome.CANCELLED: (S.CANCELLED,),
    Outcome.SOLD: (S.HELD, S.SOLD),
    Outcome.NOT_SOLD: (S.HELD, S.NOT_SOLD),
}
# Outcomes that say the meeting took place: not before it starts.
_AFTER_START = frozenset({Outcome.HELD, Outcome.NO_SHOW, Outcome.SOLD, Outcome.NOT_SOLD})
# Meetings whose salesperson still owes an outcome (once they have started).
_AWAITING = frozenset({S.BOOKED, S.HELD})
# Who may record for someone else's meetings.
_OVERSEERS = frozenset({Role.MANAGER, Role.ADMIN})


@dataclass(frozen=True)
class OutcomeForm:
    outcome: Outcome
    sale_amount: Decimal | None = None
    new_start: datetime | None = None
    note: str = ""


def parse_outcome(data: Any) -> OutcomeForm:
    """The outcome form as posted (amounts may be typed with Persian digits
    and thousands separators)."""
    try:
        outcome = Outcome(str(data.get("outcome") or ""))
    except ValueError:
        raise InvalidInput(N_("choose what happened"), details={"field": "outcome"}) from None
    amount = None
    if outcome is Outcome.SOLD:
        amount = parse_amount(data.get("sale_amount"))
    new_start = None
    if outcome is Outcome.RESCHEDULED:
        new_start = appointments.parse_start(data.get("new_start"))
    note = str(data.get("note") or "").strip()[:MAX_NOTE]
    return OutcomeForm(outcome, amount, new_start, note)


def parse_amount(value: object) -> Decimal:
    text = to_ascii_digits(str(value or "")).strip()
    for separator in (",", "٬", "،", " ", "\u200c"):
        text = text.replace(separator, "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(
            N_("enter the sale amount in rials"), details={"field": "sale_amount"}
        ) from None
    if (
        not amount.is_finite()
        or amount <= 0
        or amount >= MAX_AMOUNT
        or amount != amount.to_integral()
    ):
        raise InvalidInput(N_("enter the sale amount in rials"), details={"field": "sale_amount"})
    return amount


def get_meeting(session: Session, appointment_id: int, user: User) -> Appointment:
    """The meeting, if `user` holds it (or oversees everyone's), locked
    until the unit of work ends (two outcomes at once are recorded in turn)."""
    appointment = session.get(Appointment, appointment_id, with_for_update=True)
    if appointment is None:
        raise NotFound(N_("no such meeting"), details={"appointment_id": appointment_id})
    if appointment.owner_id != user.id and user.role not in _OVERSEERS:
        raise Forbidden(N_("this meeting is in another salesperson's calendar"))
    return appointment


def record_outcome(
    session: Session,
    appointment_id: int,
    form: OutcomeForm,
    *,
    actor: User,
    now: datetime | None = None,
    bus: EventBus | None = None,
) -> Appointment:
    """Record what happened at the meeting; returns the meeting the customer
    now has (the new one when it was moved to another time: the customer is
    sent its confirmation, as at booking)."""
    now = now or utcnow()
    appointment = get_meeting(session, appointment_id, actor)
    if form.outcome in _AFTER_START and appointment.starts_at > now:
        raise InvalidInput(
            N_("the meeting has not started yet; it can be moved or cancelled"),
            details={"field": "outcome"},
        )
    current = appointment.status
    path = _STATUS_PATH[form.outcome]
    if current in path:  # held already: sold or not sold is the step left
        path = path[path.index(current) + 1 :]
    for status in path:
        appointments.change_status(session, appointment, status, by_id=actor.id, now=now)
    result = appointment
    if form.outcome is Outcome.SOLD:
        appointment.sale_amount = form.sale_amount
        _settle_lead_as_sale(session, appointment, now)
    if form.outcome is Outcome.RESCHEDULED:
        assert form.new_start is not None
        result = _book_again(session, appointment, form.new_start, actor=actor, now=now)
        follow_up.queue_for_appointment(session, result, now=now, bus=bus)
        follow_up.queue_change_notices(session, result, FollowUpNotice.MOVED, now=now, bus=bus)
    if form.outcome is Outcome.CANCELLED:
        follow_up.queue_change_notices(
            session, appointment, FollowUpNotice.CANCELLED, now=now, bus=bus
        )
    if form.note:
        appointment.outcome_note = form.note
    session.flush()
    audit.record(
        session,
        "appointment.outcome",
        actor=actor,
        target_type="appointment",
        target_id=appointment.id,
        details={
            "from": str(current),
            "to": str(appointment.status),
            "sale_amount": str(form.sale_amount) if form.sale_amount is not None else None,
            "new_appointment_id": result.id if result is not appointment else None,
        },
    )
    return result


def _book_again(
    session: Session, old: Appointment, starts_at: datetime, *, actor: User, now: datetime
) -> Appointment:
    """The same meeting at a new time in the same calendar (its old time is
    free again by now)."""
    campaign = session.get(Campaign, old.campaign_id) if old.campaign_id is not None else None
    rules = appointments.rules_for(campaign) if campaign is not None else None
    if rules is not None:
        appointments.check_bookable(starts_at, rules, now)
    duration = old.ends_at - old.starts_at
    ends_at = starts_at + duration
    busy = appointments.busy_by_owner(session, [old.owner_id], now)
    appointments.choose_free_owner(busy, starts_at, ends_at)
    moved = Appointment(
        customer_id=old.customer_id,
        lead_id=old.lead_id,
        campaign_id=old.campaign_id,
        call_id=old.call_id,
        booked_by_id=old.booked_by_id,
        owner_id=old.owner_id,
        starts_at=starts_at,
        ends_at=ends_at,
        kind=old.kind,
        location=old.location,
        meeting_link=old.meeting_link,
        contact_number=old.contact_number,
        rescheduled_from_id=old.id,
    )
    appointments.hold_calendar(session, moved, by_id=actor.id, now=now)
    return moved


def _settle_lead_as_sale(session: Session, appointment: Appointment, now: datetime) -> None:
    lead = session.get(Lead, appointment.lead_id) if appointment.lead_id is not None else None
    if lead is None or lead.state != LeadState.APPOINTMENT:
        return
    old = lead.state
    lead.state = advance(LEAD_TRANSITIONS, old, LeadState.SALE, subject=f"lead {lead.id}")
    lead.updated_at = now
    session.add(
        LeadStateChange(
            lead_id=lead.id,
            from_state=old,
            to_state=LeadState.SALE,
            reason="meeting sold",
            at=now,
        )
    )


# --- the salesperson's page ------------------------------------------------------


def my_meetings(
    session: Session, user: User, locale: str, *, now: datetime | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The user's meetings: those awaiting an outcome (started, still
    booked), those to come, and those recorded in the last two weeks."""
    now = now or utcnow()
    query = (
        select(Appointment, Customer, Campaign.name, Campaign.timezone, User.full_name)
        .join(Customer, Customer.id == Appointment.customer_id)
        .join(User, User.id == Appointment.booked_by_id)
        .outerjoin(Campaign, Campaign.id == Appointment.campaign_id)
        .where(
            Appointment.owner_id == user.id,
            or_(
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.starts_at >= now - RECENT,
            ),
        )
        .order_by(Appointment.starts_at)
    )
    groups: dict[str, list[dict[str, Any]]] = {"due": [], "coming": [], "recorded": []}
    for appointment, customer, campaign, timezone, booked_by in session.execute(query):
        row = _meeting_row(appointment, customer, campaign or "", booked_by, locale, timezone)
        if appointment.status not in _AWAITING:
            groups["recorded"].append(row)
        elif appointment.starts_at <= now:
            groups["due"].append(row)
        else:
            row["new_times"] = _new_times(session, appointment, locale, timezone, now)
            groups["coming"].append(row)
    for row in groups["due"]:
        row["new_times"] = _new_times(session, row["appointment"], locale, row["tz"], now)
    groups["recorded"].reverse()
    return groups


def _meeting_row(
    appointment: Appointment,
    customer: Customer,
    campaign: str,
    booked_by: str,
    locale: str,
    timezone: str | None,
) -> dict[str, Any]:
    tz = ZoneInfo(timezone or "Asia/Tehran")
    name = " ".join(
        part for part in (customer.title, customer.first_name, customer.last_name) if part
    )
    return {
        "appointment": appointment,
        "tz": timezone or "Asia/Tehran",
        "id": appointment.id,
        "when": format_datetime(appointment.starts_at, locale, tz=tz),
        "customer": name or customer.phone_e164,
        "phone": customer.phone_e164,
        "company": customer.company,
        "campaign": campaign,
        "booked_by": booked_by,
        "kind": str(appointment.kind),
        "place": appointment.location or appointment.meeting_link,
        "status": str(appointment.status),
        "sale_amount": _amount_text(appointment.sale_amount, locale),
        "note": appointment.outcome_note,
    }


def _amount_text(amount: Decimal | None, locale: str) -> str:
    if amount is None:
        return ""
    grouped = f"{int(amount):,}"
    return localize_digits(grouped.replace(",", "٬"), locale) if locale == "fa" else grouped


def _new_times(
    session: Session, appointment: Appointment, locale: str, timezone: str, now: datetime
) -> list[dict[str, str]]:
    """Free times of the salesperson's calendar to move the meeting to."""
    campaign = (
        session.get(Campaign, appointment.campaign_id)
        if appointment.campaign_id is not None
        else None
    )
    rules = appointments.rules_for(campaign) if campaign is not None else None
    busy = appointments.busy_by_owner(session, [appointment.owner_id], now)[appointment.owner_id]
    own = (appointment.starts_at, appointment.ends_at)
    others = [interval for interval in busy if interval != own]
    tz = ZoneInfo(timezone)
    return [
        {"start": slot.start.isoformat(), "label": format_datetime(slot.start, locale, tz=tz)}
        for slot in free_slots(now, others, rules, limit=24)
    ]
