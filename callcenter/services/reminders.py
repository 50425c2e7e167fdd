"""Reminders before each meeting: an e-mail to the customer, with the
meeting's invite, `campaign.reminder_minutes` before it (several numbers,
several reminders). Written when the meeting is booked, dropped when it is
cancelled or moved, sent by the follow-up e-mail's sender (same SMTP path,
retries and backoff)."""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.errors import N_
from callcenter.models import (
    Appointment,
    AppointmentReminder,
    AppointmentStatus,
    Campaign,
    Customer,
    DeliveryStatus,
)
from callcenter.services import follow_up
from callcenter.services.reports.labels import translator
from callcenter.settings import SmtpSettings

MAX_REMINDERS = 5
SUBJECT = N_("Reminder: %(subject)s")


def schedule(session: Session, appointment: Appointment, *, now: datetime) -> int:
    """The meeting's reminders that are still ahead; how many."""
    campaign = session.get(Campaign, appointment.campaign_id) if appointment.campaign_id else None
    customer = session.get(Customer, appointment.customer_id)
    if campaign is None or customer is None or not customer.email:
        return 0
    made = 0
    for minutes in sorted(set(campaign.reminder_minutes or []), reverse=True):
        due = appointment.starts_at - timedelta(minutes=minutes)
        if due <= now:
            continue
        session.add(
            AppointmentReminder(
                appointment_id=appointment.id,
                minutes_before=minutes,
                to_address=customer.email,
                next_attempt_at=due,
            )
        )
        made += 1
    session.flush()
    return made


def drop_pending(session: Session, appointment: Appointment) -> None:
    """The meeting no longer holds its time: no reminder of it."""
    session.execute(
        delete(AppointmentReminder).where(
            AppointmentReminder.appointment_id == appointment.id,
            AppointmentReminder.status == DeliveryStatus.QUEUED,
        )
    )


def next_due(database: Database) -> datetime | None:
    with database.read_sessions() as session:
        return session.scalar(
            select(func.min(AppointmentReminder.next_attempt_at)).where(
                AppointmentReminder.status == DeliveryStatus.QUEUED
            )
        )


def send_due(database: Database, smtp: SmtpSettings, *, now: datetime | None = None) -> int:
    """Send every reminder that is due; how many went out."""
    now = now or utcnow()
    with database.read_sessions() as session:
        due = list(
            session.scalars(
                select(AppointmentReminder.id).where(
                    AppointmentReminder.status == DeliveryStatus.QUEUED,
                    AppointmentReminder.next_attempt_at <= now,
                )
            )
        )
    return sum(_send_one(database, reminder_id, smtp, now) for reminder_id in due)


def _send_one(database: Database, reminder_id: int, smtp: SmtpSettings, now: datetime) -> bool:
    with database.unit_of_work() as session:
        email = _claim(session, reminder_id, smtp.sender, now)
    if email is None:
        return False
    error: Exception | None = None
    try:
        follow_up.deliver(email, smtp)
    except (OSError, smtplib.SMTPException) as exc:
        error = exc
    with database.unit_of_work() as session:
        reminder = session.get(AppointmentReminder, reminder_id)
        assert reminder is not None
        if error is None:
            reminder.status = DeliveryStatus.SENT
            reminder.sent_at = now
            reminder.next_attempt_at = None
        else:
            reminder.last_error = f"{type(error).__name__}: {error}"[:1000]
            if reminder.attempts >= follow_up.MAX_ATTEMPTS:
                reminder.status = DeliveryStatus.FAILED
                reminder.next_attempt_at = None
            else:
                reminder.next_attempt_at = now + follow_up.retry_delay(reminder.attempts)
    return error is None


def _claim(session: Session, reminder_id: int, sender: str, now: datetime) -> EmailMessage | None:
    """Take a due reminder (its next attempt moves past a lease, as a
    follow-up's does); None when it is not due or its meeting is off."""
    reminder = session.scalar(
        select(AppointmentReminder).where(AppointmentReminder.id == reminder_id).with_for_update()
    )
    if (
        reminder is None
        or reminder.status is not DeliveryStatus.QUEUED
        or reminder.next_attempt_at is None
        or reminder.next_attempt_at > now
    ):
        return None
    appointment = session.get(Appointment, reminder.appointment_id)
    if appointment is None or appointment.status is not AppointmentStatus.BOOKED:
        session.delete(reminder)
        return None
    reminder.attempts += 1
    reminder.next_attempt_at = now + follow_up.SEND_LEASE
    session.flush()
    uid, sequence = follow_up.series(session, appointment)
    message = follow_up.compose(session, appointment, "email_body")
    return _email(appointment, reminder, message, sender, now, uid=uid, sequence=sequence)


def _email(
    appointment: Appointment,
    reminder: AppointmentReminder,
    message: follow_up.Message,
    sender: str,
    now: datetime,
    *,
    uid: str,
    sequence: int,
) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = reminder.to_address
    email["Subject"] = translator(message.locale)(SUBJECT) % {"subject": message.subject}
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain="callcenter")
    email["Content-Language"] = message.locale
    email.set_content(message.body)
    email.add_attachment(
        follow_up.invitation(appointment, message, sender, now, uid=uid, sequence=sequence),
        maintype="text",
        subtype="calendar",
        filename="invite.ics",
        params={"method": "REQUEST"},
    )
    return email
