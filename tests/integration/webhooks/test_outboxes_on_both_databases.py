"""The outboxes' claims (FOR UPDATE SKIP LOCKED on PostgreSQL) and their
bookkeeping, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.models import SmsMessage, SmsStatus, WebhookDelivery, WebhookDeliveryStatus
from callcenter.services import sms, webhooks
from callcenter.settings import SmsSettings, WebhookSettings
from callcenter.sms_providers import KavenegarProvider
from callcenter.states import Role
from tests.factories import make_campaign, make_customer, make_user
from tests.integration.sms.gateway import API_KEY, gateway
from tests.integration.webhooks.receiver import receiver

pytestmark = pytest.mark.postgres
SETTINGS = WebhookSettings(timeout_seconds=2, first_retry_seconds=0.1, max_attempts=3)


def test_a_webhook_is_claimed_once_sent_and_recorded(database: Database) -> None:
    with receiver(500) as crm:
        with database.unit_of_work() as session:
            admin = make_user(session, Role.ADMIN)
            webhooks.create_subscription(
                session, name="CRM", url=crm.url, events=["call.ended"], actor=admin
            )
            webhooks.enqueue(session, "call.ended", {"call_id": "x", "at": utcnow()})
        (claimed,) = webhooks.claim_due(database, SETTINGS, limit=10)
        assert webhooks.claim_due(database, SETTINGS, limit=10) == []
        with requests.Session() as http:
            failed = webhooks.post(claimed, SETTINGS, http)
            assert failed.status_code == 500
            webhooks.record(database, SETTINGS, claimed.delivery_id, failed)
            later = utcnow() + timedelta(seconds=1)
            (again,) = webhooks.claim_due(database, SETTINGS, limit=10, now=later)
            webhooks.record(
                database, SETTINGS, again.delivery_id, webhooks.post(again, SETTINGS, http)
            )
    with database.read_sessions() as session:
        (delivery,) = session.scalars(select(WebhookDelivery)).all()
        assert (delivery.status, delivery.attempts) == (WebhookDeliveryStatus.DELIVERED, 2)
        assert delivery.payload["data"]["at"].count("T") == 1, "times as ISO 8601"


def test_an_sms_is_sent_once(database: Database) -> None:
    with database.unit_of_work() as session:
        campaign = make_campaign(session)
        customer = make_customer(session)
        session.add(
            SmsMessage(
                kind="booking",
                campaign_id=campaign.id,
                to_e164=customer.phone_e164,
                text="سلام",
                next_attempt_at=utcnow() - timedelta(minutes=1),
            )
        )
    now = utcnow().replace(hour=8, minute=0)  # 11:30 in Tehran: within the hours
    with gateway() as fake, requests.Session() as http:
        settings = SmsSettings(
            provider="kavenegar", kavenegar_api_key=API_KEY, kavenegar_url=fake.base
        )
        provider = KavenegarProvider(settings, http)
        tz = ZoneInfo("Asia/Tehran")
        assert sms.send_due(database, provider, settings, tz, now=now + timedelta(days=1)) == 1
        assert sms.send_due(database, provider, settings, tz, now=now + timedelta(days=1)) == 0
        assert len(fake.sent) == 1
    with database.read_sessions() as session:
        (message,) = session.scalars(select(SmsMessage)).all()
        assert message.status is SmsStatus.SENT
