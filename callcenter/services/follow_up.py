"""Step 9: the written follow-up of a booked meeting. A confirmation email in
the customer's language with an iCalendar invite, queued in `follow_ups` and
sent over SMTP (retried with backoff); a printable letter for the back office
when the meeting is more than `campaign.follow_up_letter_after_days` away
(or the customer has no email address)."""

from __future__ import annotations

import logging
import smtplib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from zoneinfo import ZoneInfo

from icalendar import Calendar, vCalAddress, vText
from icalendar import Event as CalendarEvent
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.bus import EventBus
from callcenter.db import Database, utcnow
from callcenter.errors import N_, NotFound
from callcenter.events import FollowUpQueued
from callcenter.models import (
    Appointment,
    AppointmentStatusChange,
    Campaign,
    Customer,
    DeliveryStatus,
    FollowUp,
    FollowUpKind,
    FollowUpNotice,
    ScriptVersion,
    User,
)
from callcenter.realtime import emit_after_commit
from callcenter.realtime.rooms import agent_room
from callcenter.services import scripts_catalog
from callcenter.services.bus_outbox import publish_after_commit
from callcenter.settings import SmtpSettings
from scripts import render_message
from scripts.model import FOLLOW_UP_STEP

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(minutes=30)
SENT_EVENT = "follow_up_sent"


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 30 min."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def _locale(customer: Customer) -> str:
    return customer.locale if customer.locale in ("fa", "en") else "fa"


@dataclass(frozen=True)
class Message:
    locale: str
    subject: str
    body: str


def compose(session: Session, appointment: Appointment, name: str) -> Message:
    """Step 9's `email_body` or `letter_body`, in the customer's language."""
    locale, version, context = message_context(session, appointment)
    step = scripts_catalog.script_of(version).step(FOLLOW_UP_STEP)
    return Message(
        locale,
        render_message(step, "email_subject", context),
        render_message(step, name, context),
    )


def message_context(
    session: Session, appointment: Appointment
) -> tuple[str, ScriptVersion, dict[str, object]]:
    """The customer's language, the campaign's script version in it, and the
    script's placeholders filled for this meeting (e-mail, letter, SMS)."""
    from callcenter.services.appointments import read_back_for

    customer = session.get(Customer, appointment.customer_id)
    campaign = session.get(Campaign, appointment.campaign_id) if appointment.campaign_id else None
    agent = session.get(User, appointment.booked_by_id)
    assert customer is not None and agent is not None
    locale = _locale(customer)
    if campaign is not None:
        version = scripts_catalog.version_for_campaign(session, campaign, locale)
        version = scripts_catalog.sibling_in_locale(session, version, locale)
    else:
        version = scripts_catalog.builtin_version(session, locale)
    tz = ZoneInfo(campaign.timezone if campaign else customer.timezone)
    context: dict[str, object] = {
        "title": customer.title,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "agent_name": agent.full_name,
        "company": campaign.company_name if campaign else "",
        "product": campaign.product if campaign else "",
        "email": customer.email or "",
        **read_back_for(appointment, locale, tz).as_context(),
    }
    return locale, version, context


def queue_for_appointment(
    session: Session,
    appointment: Appointment,
    *,
    now: datetime | None = None,
    bus: EventBus | None = None,
) -> list[FollowUp]:
    now = now or utcnow()
    customer = session.get(Customer, appointment.customer_id)
    campaign = session.get(Campaign, appointment.campaign_id) if appointment.campaign_id else None
    assert customer is not None
    letter_after = timedelta(days=campaign.follow_up_letter_after_days if campaign else 3)
    message = compose(session, appointment, "email_body")
    _uid, sequence = series(session, appointment)
    queued: list[FollowUp] = []
    if customer.email:
        queued.append(
            FollowUp(
                appointment_id=appointment.id,
                kind=FollowUpKind.EMAIL,
                locale=message.locale,
                to_address=customer.email,
                subject=message.subject[:255],
                next_attempt_at=now,
                notice=(
                    FollowUpNotice.MOVED
                    if appointment.rescheduled_from_id is not None
                    else FollowUpNotice.INVITE
                ),
                ics_sequence=sequence,
            )
        )
    if not customer.email or appointment.starts_at - now > letter_after:
        queued.append(
            FollowUp(
                appointment_id=appointment.id,
                kind=FollowUpKind.LETTER,
                locale=message.locale,
                subject=message.subject[:255],
            )
        )
    session.add_all(queued)
    session.flush()
    for item in queued:
        if item.kind is FollowUpKind.EMAIL:
            publish_after_commit(session, bus, FollowUpQueued(follow_up_id=item.id))
    return queued


def queue_change_notices(
    session: Session,
    appointment: Appointment,
    notice: FollowUpNotice,
    *,
    now: datetime,
    bus: EventBus | None = None,
) -> list[FollowUp]:
    """The meeting was moved (`appointment` is the meeting at its new time)
    or cancelled: an e-mail with the updated .ics to its salesperson, and,
    for a cancellation, to the customer (a moved meeting's customer gets its
    new confirmation from `queue_for_appointment`). Sent by the follow-up
    sender, never on the request's thread."""
    customer = session.get(Customer, appointment.customer_id)
    salesperson = session.get(User, appointment.owner_id)
    assert customer is not None
    _uid, sequence = series(session, appointment)
    queued: list[FollowUp] = []
    if notice is FollowUpNotice.CANCELLED and customer.email:
        queued.append(
            FollowUp(
                appointment_id=appointment.id,
                kind=FollowUpKind.EMAIL,
                locale=_locale(customer),
                to_address=customer.email,
                next_attempt_at=now,
                notice=notice,
                ics_sequence=sequence,
            )
        )
    if salesperson is not None and salesperson.email:
        queued.append(
            FollowUp(
                appointment_id=appointment.id,
                kind=FollowUpKind.EMAIL,
                locale=salesperson.locale if salesperson.locale in ("fa", "en") else "fa",
                to_address=salesperson.email,
                next_attempt_at=now,
                notice=notice,
                to_salesperson=True,
                ics_sequence=sequence,
            )
        )
    session.add_all(queued)
    session.flush()
    for item in queued:
        publish_after_commit(session, bus, FollowUpQueued(follow_up_id=item.id))
    return queued


def appointment_uid(appointment_id: int) -> str:
    """The meeting's iCalendar UID: the same in the invite and in the calendar
    feeds, so a calendar that has both keeps one event."""
    return f"appointment-{appointment_id}@callcenter"


def series(session: Session, appointment: Appointment) -> tuple[str, int]:
    """The meeting's iCalendar UID and SEQUENCE. A meeting moved to another
    time is a new row (`rescheduled_from_id`) but the same event to the
    calendars: it keeps the UID of the first booking, and its SEQUENCE counts
    every status change along the way (0 for a meeting just booked)."""
    chain = [appointment]
    while chain[-1].rescheduled_from_id is not None:
        earlier = session.get(Appointment, chain[-1].rescheduled_from_id)
        if earlier is None:
            break
        chain.append(earlier)
    session.flush()
    changes = session.scalar(
        select(func.count(AppointmentStatusChange.id)).where(
            AppointmentStatusChange.appointment_id.in_([a.id for a in chain])
        )
    )
    return appointment_uid(chain[-1].id), max(int(changes or 0) - 1, 0)


def invitation(
    appointment: Appointment,
    message: Message,
    organizer: str,
    now: datetime,
    *,
    uid: str | None = None,
    sequence: int = 0,
    method: str = "REQUEST",
) -> bytes:
    """The .ics for the meeting: an invite or update (METHOD:REQUEST), or its
    cancellation (METHOD:CANCEL)."""
    calendar = Calendar()
    calendar.add("prodid", "-//callcenter//appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = CalendarEvent()
    event.add("uid", uid or appointment_uid(appointment.id))
    event.add("dtstamp", now)
    event.add("dtstart", appointment.starts_at)
    event.add("dtend", appointment.ends_at)
    event.add("summary", message.subject)
    event.add("description", message.body)
    event.add("location", appointment.location or appointment.meeting_link)
    if appointment.meeting_link:
        event.add("url", appointment.meeting_link)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("sequence", sequence)
    organizer_address = vCalAddress(f"mailto:{organizer}")
    event["organizer"] = organizer_address
    customer = appointment.customer
    if customer is not None and customer.email:
        attendee = vCalAddress(f"mailto:{customer.email}")
        attendee.params["cn"] = vText(f"{customer.title} {customer.last_name}".strip())
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["rsvp"] = vText("TRUE")
        event.add("attendee", attendee, encode=0)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def build_email(
    session: Session, follow_up: FollowUp, sender: str, now: datetime | None = None
) -> EmailMessage:
    appointment = session.get(Appointment, follow_up.appointment_id)
    assert appointment is not None
    if follow_up.to_salesperson:
        message = _salesperson_notice(session, appointment, follow_up)
    elif follow_up.notice is FollowUpNotice.CANCELLED:
        message = _customer_cancellation(session, appointment)
    else:
        message = compose(session, appointment, "email_body")
    method = "CANCEL" if follow_up.notice is FollowUpNotice.CANCELLED else "REQUEST"
    uid, _sequence = series(session, appointment)
    email = EmailMessage()
    email["From"] = sender
    email["To"] = follow_up.to_address
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain="callcenter")
    email["Content-Language"] = message.locale
    email.set_content(message.body)
    email.add_attachment(
        invitation(
            appointment,
            message,
            sender,
            now or utcnow(),
            uid=uid,
            sequence=follow_up.ics_sequence,
            method=method,
        ),
        maintype="text",
        subtype="calendar",
        filename="invite.ics",
        params={"method": method},
    )
    return email


CANCELLED_SUBJECT = N_("Cancelled: %(subject)s")
CANCELLED_BODY = N_("Your meeting on %(when)s has been cancelled.")
SALESPERSON_SUBJECTS = {
    FollowUpNotice.MOVED: N_("Meeting moved: %(customer)s, %(when)s"),
    FollowUpNotice.CANCELLED: N_("Meeting cancelled: %(customer)s, %(when)s"),
    FollowUpNotice.INVITE: N_("New meeting: %(customer)s, %(when)s"),
}
SALESPERSON_BODY = N_("Customer: %(customer)s\nPhone: %(phone)s\nWhen: %(when)s\nPlace: %(place)s")


def _when_text(session: Session, appointment: Appointment, locale: str) -> str:
    from callcenter.dates import format_datetime

    campaign = session.get(Campaign, appointment.campaign_id) if appointment.campaign_id else None
    customer = session.get(Customer, appointment.customer_id)
    assert customer is not None
    zone = ZoneInfo(campaign.timezone if campaign else customer.timezone)
    return format_datetime(appointment.starts_at, locale, tz=zone)


def _customer_cancellation(session: Session, appointment: Appointment) -> Message:
    from callcenter.services.reports.labels import translator

    confirmation = compose(session, appointment, "email_body")
    gettext = translator(confirmation.locale)
    when = _when_text(session, appointment, confirmation.locale)
    return Message(
        confirmation.locale,
        gettext(CANCELLED_SUBJECT) % {"subject": confirmation.subject},
        gettext(CANCELLED_BODY) % {"when": when},
    )


def _salesperson_notice(session: Session, appointment: Appointment, follow_up: FollowUp) -> Message:
    from callcenter.services.reports.labels import translator

    customer = session.get(Customer, appointment.customer_id)
    assert customer is not None
    gettext = translator(follow_up.locale)
    name = " ".join(
        part for part in (customer.title, customer.first_name, customer.last_name) if part
    )
    fields = {
        "customer": name or customer.phone_e164,
        "phone": customer.phone_e164,
        "when": _when_text(session, appointment, follow_up.locale),
        "place": appointment.location or appointment.meeting_link,
    }
    return Message(
        follow_up.locale,
        gettext(SALESPERSON_SUBJECTS[follow_up.notice]) % fields,
        gettext(SALESPERSON_BODY) % fields,
    )


def deliver(email: EmailMessage, smtp: SmtpSettings, *, timeout: float = 15) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
        if smtp.use_tls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password)
        client.send_message(email)


SEND_LEASE = timedelta(minutes=5)


def claim(session: Session, follow_up_id: int, now: datetime) -> EmailMessage | None:
    """Take a due email for sending: its next attempt moves past a lease, so
    another sender leaves it alone, and a sender that dies mid-send only
    delays it. Returns the message to send, or None when it is not due."""
    query = select(FollowUp).where(FollowUp.id == follow_up_id).with_for_update()
    follow_up = session.scalar(query)
    if (
        follow_up is None
        or follow_up.status is not DeliveryStatus.QUEUED
        or follow_up.next_attempt_at is None
        or follow_up.next_attempt_at > now
    ):
        return None
    follow_up.attempts += 1
    follow_up.next_attempt_at = now + SEND_LEASE
    session.flush()
    try:
        return build_email(session, follow_up, follow_up_sender(session), now)
    except (ValueError, TypeError, LookupError) as exc:
        # A message that cannot be built now never will (a CR/LF in a header,
        # say): it fails for good instead of coming first forever.
        follow_up.status = DeliveryStatus.FAILED
        follow_up.next_attempt_at = None
        follow_up.last_error = f"cannot be built, not retried: {type(exc).__name__}: {exc}"[:1000]
        log.error("follow-up %s dead-lettered: %s", follow_up.id, follow_up.last_error)
        session.flush()
        _tell_agent(session, follow_up)
        return None


def follow_up_sender(session: Session) -> str:
    return str(session.info.get("smtp_sender", "callcenter@localhost"))


def record_result(
    session: Session, follow_up_id: int, error: Exception | None, now: datetime
) -> bool:
    follow_up = session.get(FollowUp, follow_up_id)
    assert follow_up is not None
    if error is None:
        follow_up.status = DeliveryStatus.SENT
        follow_up.sent_at = now
        follow_up.next_attempt_at = None
    else:
        follow_up.last_error = f"{error.__class__.__name__}: {error}"[:1000]
        if follow_up.attempts >= MAX_ATTEMPTS:
            follow_up.status = DeliveryStatus.FAILED
            follow_up.next_attempt_at = None
        else:
            follow_up.next_attempt_at = now + retry_delay(follow_up.attempts)
        log.warning(
            "follow-up %s not sent (attempt %s): %s", follow_up.id, follow_up.attempts, error
        )
    session.flush()
    _tell_agent(session, follow_up)
    return error is None


def send_one(database: Database, follow_up_id: int, smtp: SmtpSettings, now: datetime) -> bool:
    """Claim, send outside any transaction, record: at least once, never
    holding the database while the SMTP server thinks."""

    def take() -> EmailMessage | None:
        with database.unit_of_work() as session:
            session.info["smtp_sender"] = smtp.sender
            return claim(session, follow_up_id, now)

    def record(error: Exception | None) -> bool:
        with database.unit_of_work() as session:
            return record_result(session, follow_up_id, error, now)

    email = take()
    if email is None:
        return False
    try:
        deliver(email, smtp)
    except (OSError, smtplib.SMTPException) as exc:
        return record(exc)
    return record(None)


def _tell_agent(session: Session, follow_up: FollowUp) -> None:
    if follow_up.to_salesperson or follow_up.notice is FollowUpNotice.CANCELLED:
        return  # the booking agent follows the confirmation, not later notices
    appointment = session.get(Appointment, follow_up.appointment_id)
    if appointment is None:
        return
    emit_after_commit(
        session,
        SENT_EVENT,
        {
            "follow_up_id": follow_up.id,
            "appointment_id": appointment.id,
            "call_id": appointment.call_id,
            "status": str(follow_up.status),
            "attempts": follow_up.attempts,
            "to": follow_up.to_address,
        },
        room=agent_room(appointment.booked_by_id),
    )


def send_due(database: Database, smtp: SmtpSettings, *, now: datetime | None = None) -> int:
    """Send every queued email that is due; returns how many went out."""
    now = now or utcnow()
    with database.unit_of_work() as session:
        due = list(
            session.scalars(
                select(FollowUp.id).where(
                    FollowUp.kind == FollowUpKind.EMAIL,
                    FollowUp.status == DeliveryStatus.QUEUED,
                    FollowUp.next_attempt_at <= now,
                )
            )
        )
    sent = 0
    for follow_up_id in due:
        try:
            sent += send_one(database, follow_up_id, smtp, now)
        except Exception:  # one email's trouble never holds up the ones after it
            log.exception("follow-up %s: sending failed; the next one goes on", follow_up_id)
    return sent


def next_due(database: Database) -> datetime | None:
    with database.unit_of_work() as session:
        return session.scalar(
            select(func.min(FollowUp.next_attempt_at)).where(
                FollowUp.kind == FollowUpKind.EMAIL, FollowUp.status == DeliveryStatus.QUEUED
            )
        )


class FollowUpSender:
    """Sends queued emails, and the meetings' reminders (services.reminders),
    on its own thread (an SMTP server that hangs must not hold up call
    events). Woken when an email is queued; sleeps until the next email or
    reminder is due; the thread ends when nothing is left to send."""

    def __init__(self, database: Database, smtp: SmtpSettings) -> None:
        self.database = database
        self.smtp = smtp
        self._wakeup = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def wake(self, _event: object = None) -> None:
        with self._lock:
            self._wakeup.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="follow-up", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        from callcenter.services import reminders

        while True:
            self._wakeup.clear()
            try:
                send_due(self.database, self.smtp)
                reminders.send_due(self.database, self.smtp)
                due = min(
                    (d for d in (next_due(self.database), reminders.next_due(self.database)) if d),
                    default=None,
                )
            except Exception:
                log.exception("follow-up sender failed; retrying in a minute")
                due = utcnow() + timedelta(minutes=1)
            with self._lock:
                if due is None and not self._wakeup.is_set():
                    self._thread = None
                    return
            wait = 0.0 if due is None else (due - utcnow()).total_seconds()
            self._wakeup.wait(timeout=max(wait, 0.05))


@dataclass(frozen=True)
class Letter:
    follow_up_id: int
    locale: str
    subject: str
    paragraphs: list[str]
    recipient: list[str]
    dated: str


def letter(session: Session, follow_up_id: int, reader: User) -> Letter:
    """The printable letter of a letter follow-up, for staff whose floor the
    appointment's campaign is on (a supervisor: their teams' campaigns); to
    anyone else it does not exist, so letters cannot be found by counting ids."""
    from callcenter.dates import format_date
    from callcenter.services.reports.scope import visible_campaign_ids

    follow_up = session.get(FollowUp, follow_up_id)
    if follow_up is None or follow_up.kind is not FollowUpKind.LETTER:
        raise NotFound(N_("no such letter"), details={"follow_up_id": follow_up_id})
    appointment = session.get(Appointment, follow_up.appointment_id)
    assert appointment is not None
    visible = visible_campaign_ids(session, reader)
    if visible is not None and appointment.campaign_id not in visible:
        raise NotFound(N_("no such letter"), details={"follow_up_id": follow_up_id})
    customer = session.get(Customer, appointment.customer_id)
    assert customer is not None
    message = compose(session, appointment, "letter_body")
    recipient = [
        line
        for line in (
            f"{customer.title} {customer.first_name} {customer.last_name}".strip(),
            customer.company,
            customer.address,
            customer.city,
        )
        if line
    ]
    paragraphs = [part.strip() for part in message.body.split("\n\n") if part.strip()]
    dated = format_date(
        follow_up.created_at.astimezone(ZoneInfo(customer.timezone)).date(), message.locale
    )
    return Letter(follow_up.id, message.locale, message.subject, paragraphs, recipient, dated)
