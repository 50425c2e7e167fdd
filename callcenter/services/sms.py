"""SMS to customers: on booking, when a callback is scheduled, and the day
before the meeting, from the campaign's templates (the script's
placeholders: {title}, {last_name}, {appointment_date}, {appointment_time},
{place}, {contact_number}, {callback_time}, ...). Queued in `sms_messages` in
the transaction of the change, sent by the SMS sender (callcenter.sms_worker)
within the sending hours, retried with backoff, delivery followed where the
gateway tells it. A customer who answers with an opt-out keyword is put on
the global do-not-call list."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.leadfiles import InvalidPhone, normalize_phone, normalize_text, to_ascii_digits
from callcenter.models import (
    Appointment,
    Callback,
    Campaign,
    Customer,
    SmsMessage,
    SmsStatus,
    User,
)
from callcenter.services import dnc
from callcenter.settings import SmsSettings
from callcenter.sms_providers import SmsProvider
from scripts.placeholders import render_for_customer

OCCASIONS = ("booking", "callback", "reminder")
REMINDER_BEFORE = timedelta(days=1)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
DELIVERY_WATCH = timedelta(days=2)
"""How long after sending the gateway is asked whether the phone got it."""


def _template(campaign: Campaign | None, occasion: str) -> str:
    return str((campaign.sms_templates or {}).get(occasion) or "") if campaign else ""


def queue_for_appointment(session: Session, appointment: Appointment, *, now: datetime) -> int:
    """The booking SMS now and the reminder the day before (when the campaign
    has their texts); how many were queued."""
    from callcenter.services.follow_up import message_context

    campaign = session.get(Campaign, appointment.campaign_id) if appointment.campaign_id else None
    customer = session.get(Customer, appointment.customer_id)
    if campaign is None or customer is None:
        return 0
    queued = 0
    context: Mapping[str, object] | None = None
    for occasion, due in (
        ("booking", now),
        ("reminder", appointment.starts_at - REMINDER_BEFORE),
    ):
        template = _template(campaign, occasion)
        if not template or due < now:
            continue
        if context is None:
            context = message_context(session, appointment)[2]
        session.add(
            SmsMessage(
                kind=occasion,
                campaign_id=campaign.id,
                appointment_id=appointment.id,
                to_e164=customer.phone_e164,
                text=render_for_customer(template, context),
                next_attempt_at=due,
            )
        )
        queued += 1
    session.flush()
    return queued


def drop_for_appointment(session: Session, appointment: Appointment) -> None:
    """A meeting cancelled or moved: its reminder is not sent."""
    session.execute(
        delete(SmsMessage).where(
            SmsMessage.appointment_id == appointment.id,
            SmsMessage.status == SmsStatus.QUEUED,
            SmsMessage.kind == "reminder",
        )
    )


def queue_for_callback(session: Session, callback: Callback, *, now: datetime) -> bool:
    from callcenter.dates import format_datetime

    campaign = session.get(Campaign, callback.campaign_id)
    customer = session.get(Customer, callback.customer_id)
    template = _template(campaign, "callback")
    if not template or customer is None or campaign is None:
        return False
    locale = customer.locale if customer.locale in ("fa", "en") else "fa"
    agent = session.get(User, callback.assigned_agent_id) if callback.assigned_agent_id else None
    context = {
        "title": customer.title,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "company": campaign.company_name,
        "product": campaign.product,
        "agent_name": agent.full_name if agent is not None else "",
        "callback_time": format_datetime(
            callback.due_at, locale, tz=ZoneInfo(campaign.timezone), style="short"
        ),
    }
    session.add(
        SmsMessage(
            kind="callback",
            campaign_id=campaign.id,
            callback_id=callback.id,
            to_e164=customer.phone_e164,
            text=render_for_customer(template, context),
            next_attempt_at=now,
        )
    )
    session.flush()
    return True


def within_hours(moment: datetime, settings: SmsSettings, tz: ZoneInfo) -> datetime:
    """`moment`, or the start of the next sending hours when it is outside them."""
    start_text, _, end_text = settings.sending_hours.partition("-")
    start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    local = moment.astimezone(tz)
    if start <= local.time() < end:
        return moment
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return datetime.combine(day, start, tzinfo=tz).astimezone(moment.tzinfo)


def retry_delay(attempts: int) -> timedelta:
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def send_due(
    database: Database,
    provider: SmsProvider,
    settings: SmsSettings,
    tz: ZoneInfo,
    *,
    now: datetime | None = None,
) -> int:
    """Send the due messages (those due outside the sending hours wait for
    them); how many the gateway took."""
    now = now or utcnow()
    with database.unit_of_work() as session:
        due = list(
            session.scalars(
                select(SmsMessage)
                .where(SmsMessage.status == SmsStatus.QUEUED, SmsMessage.next_attempt_at <= now)
                .order_by(SmsMessage.next_attempt_at)
                .with_for_update(skip_locked=True)
            )
        )
        claimed = []
        for message in due:
            allowed = within_hours(now, settings, tz)
            if allowed > now:
                message.next_attempt_at = allowed
                continue
            message.attempts += 1
            message.next_attempt_at = now + timedelta(seconds=settings.timeout_seconds * 3 + 30)
            claimed.append((message.id, message.to_e164, message.text))
    taken = 0
    for message_id, to, text in claimed:
        handed = provider.send(to, text)
        with database.unit_of_work() as session:
            row = session.get(SmsMessage, message_id)
            assert row is not None
            row.provider_message_id = handed.provider_message_id
            row.last_error = handed.error
            if handed.status is SmsStatus.FAILED:
                if handed.retry and row.attempts < settings.max_attempts:
                    row.next_attempt_at = now + retry_delay(row.attempts)
                else:
                    row.status = SmsStatus.FAILED
                    row.next_attempt_at = None
                continue
            taken += 1
            row.status = handed.status
            row.sent_at = now
            row.next_attempt_at = None
            if handed.status is SmsStatus.DELIVERED:
                row.delivered_at = now
    return taken


def check_delivery(
    database: Database, provider: SmsProvider, *, now: datetime | None = None
) -> int:
    """Ask the gateway about messages sent lately; how many changed."""
    now = now or utcnow()
    with database.unit_of_work() as session:
        sent = list(
            session.scalars(
                select(SmsMessage).where(
                    SmsMessage.status == SmsStatus.SENT,
                    SmsMessage.provider_message_id.is_not(None),
                    SmsMessage.sent_at >= now - DELIVERY_WATCH,
                )
            )
        )
        found = provider.statuses([m.provider_message_id for m in sent if m.provider_message_id])
        changed = 0
        for message in sent:
            status = found.get(message.provider_message_id or "")
            if status is None or status is SmsStatus.SENT:
                continue
            message.status = status
            if status is SmsStatus.DELIVERED:
                message.delivered_at = now
            changed += 1
        return changed


def next_due(database: Database) -> datetime | None:
    with database.read_sessions() as session:
        return session.scalar(
            select(func.min(SmsMessage.next_attempt_at)).where(
                SmsMessage.status == SmsStatus.QUEUED
            )
        )


def received(session: Session, sender: str, text: str, keywords: list[str]) -> bool:
    """An SMS from a customer: an opt-out keyword puts the number on the
    global do-not-call list. True when it did."""
    said = normalize_text(to_ascii_digits(text)).strip().casefold().replace(" ", "")
    wanted = {normalize_text(to_ascii_digits(k)).casefold().replace(" ", "") for k in keywords}
    if said not in wanted:
        return False
    try:
        phone = normalize_phone(sender).e164
    except InvalidPhone:
        return False
    dnc.add_number(
        session, phone, campaign_id=None, source="sms", reason="opted out by SMS", actor_id=None
    )
    return True


def recent(session: Session, *, limit: int = 100) -> list[SmsMessage]:
    """The latest messages, newest first (the admin's SMS log)."""
    return list(session.scalars(select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)))
