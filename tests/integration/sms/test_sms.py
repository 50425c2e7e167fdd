"""SMS: the campaign's Persian texts with the script's placeholders, sent on
booking, on a scheduled callback and the day before the meeting, through a
local gateway that speaks Kavenegar's contract (and a generic URL-template
gateway); delivery followed, retries, sending hours, opt-out to DNC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.models import Appointment, DncEntry, MeetingKind, SmsMessage, SmsStatus
from callcenter.services import appointments, disposition_codes, lead_lifecycle, sms
from callcenter.settings import SmsSettings
from callcenter.sms_providers import GenericHttpProvider, KavenegarProvider
from callcenter.states import CallOutcome, LeadState, Role
from tests.factories import log_in, make_campaign, make_customer, make_lead, make_user
from tests.integration.sms.gateway import API_KEY, gateway

TEHRAN = ZoneInfo("Asia/Tehran")
BOOKED_AT = datetime(2026, 12, 17, 8, 0, tzinfo=UTC)  # 11:30 in Tehran
MEETING = datetime(2026, 12, 20, 6, 30, tzinfo=UTC)
TEXTS = {
    "booking": (
        "{title} {last_name} گرامی، جلسهٔ شما {appointment_date} ساعت {appointment_time} ثبت شد."
    ),
    "reminder": "یادآوری: فردا ساعت {appointment_time} منتظر شما هستیم.",
    "callback": "{title} {last_name}، {callback_time} با شما تماس می‌گیریم.",
}


def _kavenegar(base: str) -> SmsSettings:
    return SmsSettings(
        provider="kavenegar", kavenegar_api_key=API_KEY, kavenegar_url=base, sender="10004346"
    )


def _book(session: Session) -> Appointment:
    campaign = make_campaign(session, sms_templates=TEXTS, company_name="آریا")
    customer = make_customer(
        session, phone_e164="+989121112233", title="خانم", last_name="احمدی", locale="fa"
    )
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
    return appointment


def _messages(database: Database) -> list[SmsMessage]:
    with database.read_sessions() as session:
        return list(session.scalars(select(SmsMessage).order_by(SmsMessage.id)))


def test_booking_and_day_before_sms_go_out_and_are_delivered(sqlite_database: Database) -> None:
    with sqlite_database.unit_of_work() as session:
        _book(session)
    booking, reminder = _messages(sqlite_database)
    assert (booking.kind, reminder.kind) == ("booking", "reminder")
    assert "خانم احمدی گرامی" in booking.text and "[" not in booking.text
    assert reminder.next_attempt_at == MEETING - timedelta(days=1)

    with gateway(502) as fake, requests.Session() as http:
        settings = _kavenegar(fake.base)
        provider = KavenegarProvider(settings, http)
        assert sms.send_due(sqlite_database, provider, settings, TEHRAN, now=BOOKED_AT) == 0
        (retried, _) = _messages(sqlite_database)
        assert (retried.status, retried.attempts) == (SmsStatus.QUEUED, 1)
        later = BOOKED_AT + timedelta(minutes=2)
        assert sms.send_due(sqlite_database, provider, settings, TEHRAN, now=later) == 1
        (sent,) = fake.sent
        assert sent["receptor"] == "+989121112233" and sent["sender"] == "10004346"
        assert sent["message"] == booking.text

        booking = _messages(sqlite_database)[0]
        assert booking.status is SmsStatus.SENT and booking.provider_message_id == "1001"
        fake.delivered.add("1001")
        assert sms.check_delivery(sqlite_database, provider, now=later) == 1
        assert _messages(sqlite_database)[0].status is SmsStatus.DELIVERED

        day_before = MEETING - timedelta(days=1)  # 10:00 in Tehran, within the hours
        assert sms.send_due(sqlite_database, provider, settings, TEHRAN, now=day_before) == 1
        assert fake.sent[-1]["message"] == reminder.text


def test_outside_the_sending_hours_an_sms_waits_for_the_morning(
    sqlite_database: Database,
) -> None:
    night = datetime(2026, 12, 17, 20, 0, tzinfo=UTC)  # 23:30 in Tehran
    with sqlite_database.unit_of_work() as session:
        _book(session)
    with gateway() as fake, requests.Session() as http:
        settings = _kavenegar(fake.base)
        provider = KavenegarProvider(settings, http)
        assert sms.send_due(sqlite_database, provider, settings, TEHRAN, now=night) == 0
        assert fake.sent == []
    booking = _messages(sqlite_database)[0]
    assert booking.next_attempt_at is not None
    morning = booking.next_attempt_at.astimezone(TEHRAN)
    assert (morning.date().isoformat(), morning.hour, morning.minute) == ("2026-12-18", 8, 0)


def test_a_cancelled_meeting_gets_no_reminder_sms(sqlite_database: Database) -> None:
    with sqlite_database.unit_of_work() as session:
        meeting = _book(session)
        appointments.cancel(session, meeting, by_id=None, now=BOOKED_AT)
    assert [m.kind for m in _messages(sqlite_database)] == ["booking"]


def test_a_scheduled_callback_sends_its_sms_through_a_generic_gateway(
    sqlite_database: Database,
) -> None:
    with sqlite_database.unit_of_work() as session:
        campaign = make_campaign(session, sms_templates=TEXTS)
        customer = make_customer(session, title="آقای", last_name="رضایی", locale="fa")
        lead = make_lead(session, campaign, customer, state=LeadState.DIALING)
        agent = make_user(session, Role.AGENT)
        lead_lifecycle.settle_attempt(
            session,
            lead_id=lead.id,
            call_id=None,
            outcome=CallOutcome.ANSWERED,
            disposition=disposition_codes.chosen_from(
                disposition_codes.get(session, campaign.id, "callback")
            ),
            callback_at=BOOKED_AT + timedelta(hours=3),
            callback_agent_id=agent.id,
            actor_id=agent.id,
            now=BOOKED_AT,
        )
    (callback_sms,) = _messages(sqlite_database)
    assert callback_sms.kind == "callback" and "آقای رضایی" in callback_sms.text
    with gateway() as fake, requests.Session() as http:
        settings = SmsSettings(
            provider="http",
            url_template=f"{fake.base}/send?to={{to}}&text={{text}}&from={{sender}}",
        )
        provider = GenericHttpProvider(settings, http)
        assert sms.send_due(sqlite_database, provider, settings, TEHRAN, now=BOOKED_AT) == 1
        (sent,) = fake.sent
    assert sent["to"] == customer.phone_e164
    assert sent["text"] == callback_sms.text
    assert _messages(sqlite_database)[0].provider_message_id == "g1"


def test_an_opt_out_answer_puts_the_number_on_the_do_not_call_list(
    app: Flask, client: FlaskClient, app_session: Session
) -> None:
    app.extensions["cc_settings"].sms.inbound_token = "s3cret"
    wrong = client.post("/sms/inbound?token=guess", data={"from": "09121112233", "message": "لغو"})
    assert wrong.status_code == 404
    chat = client.post("/sms/inbound?token=s3cret", data={"from": "09121112233", "message": "سلام"})
    assert chat.get_json() == {"opted_out": False}
    stop = client.post(
        "/sms/inbound?token=s3cret", data={"from": "09121112233", "message": " لغو "}
    )
    assert stop.get_json() == {"opted_out": True}
    entries = app_session.scalars(select(DncEntry)).all()
    assert [(e.phone_e164, e.campaign_id, e.source) for e in entries] == [
        ("+989121112233", None, "sms")
    ]


def test_the_admin_sees_each_sms_and_its_state(client: FlaskClient, app_session: Session) -> None:
    campaign = make_campaign(app_session)
    for status in (SmsStatus.QUEUED, SmsStatus.DELIVERED, SmsStatus.FAILED):
        app_session.add(
            SmsMessage(
                kind="booking",
                campaign_id=campaign.id,
                to_e164="+989121112233",
                text="سلام",
                status=status,
                last_error="HTTP 502" if status is SmsStatus.FAILED else "",
            )
        )
    admin = make_user(app_session, Role.ADMIN)
    app_session.commit()
    log_in(client, admin.username)
    page = client.get("/admin/sms").text
    assert page.count('data-status="') == 3
    assert "HTTP 502" in page
