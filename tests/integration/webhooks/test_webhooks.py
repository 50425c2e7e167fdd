"""Webhooks: an admin subscribes a receiver, events land in the outbox in
the transaction that makes them, the sender posts them signed, retries with
backoff, and keeps every attempt in the delivery log."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.events import CallEnded
from callcenter.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookSubscription,
)
from callcenter.services import calls, webhooks
from callcenter.settings import WebhookSettings
from callcenter.states import CallState, Role
from callcenter.webhook_worker import WebhookWorker
from tests.factories import log_in, make_campaign, make_user
from tests.integration.recording.recorded_calls import make_call
from tests.integration.webhooks.receiver import HANG, receiver
from tests.support import free_port, wait_until

FAST = WebhookSettings(
    timeout_seconds=2, first_retry_seconds=0.1, max_retry_seconds=1, max_attempts=4
)


@pytest.fixture
def sender(sqlite_database: Database) -> Iterator[WebhookWorker]:
    """The sender, started by the test once its rows are arranged: the test
    writes through `app_session`, a deferred session that fails at its first
    write when the sender committed after its first read."""
    worker = WebhookWorker(sqlite_database, FAST, poll_seconds=0.05)
    yield worker
    worker.stop()


def _subscribe(session: Session, url: str, *events: str) -> WebhookSubscription:
    admin = make_user(session, Role.ADMIN)
    subscription = webhooks.create_subscription(
        session, name="CRM", url=url, events=events or webhooks.EVENTS, actor=admin
    )
    session.commit()
    return subscription


def _deliveries(session: Session) -> list[WebhookDelivery]:
    session.commit()
    session.expire_all()
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_an_admin_subscribes_and_the_test_event_arrives_signed(
    app: Flask, client: FlaskClient, app_session: Session, sender: WebhookWorker
) -> None:
    admin = make_user(app_session, Role.ADMIN)
    app_session.commit()
    log_in(client, admin.username)
    with receiver() as crm:
        made = client.post(
            "/admin/webhooks",
            data={"name": "CRM", "url": crm.url, "events": ["call.ended", "appointment.booked"]},
        )
        assert made.status_code == 302
        page = client.get(made.headers["Location"]).text
        secret = re.search(r'id="webhook-secret" dir="ltr">([0-9a-f]+)<', page)
        assert secret, page
        subscription_id = int(made.headers["Location"].rstrip("/").split("/")[-1])

        client.post(f"/admin/webhooks/{subscription_id}/test")
        sender.start()
        wait_until(lambda: crm.received, 10, "the test event")

        got = crm.received[0]
        assert got.signed_by(secret.group(1))
        assert not got.signed_by("another secret")
        assert got.headers["X-Callcenter-Event"] == "webhook.test"
        assert got.payload["id"] == got.headers["X-Callcenter-Delivery"]
        wait_until(
            lambda: _deliveries(app_session)[0].status is WebhookDeliveryStatus.DELIVERED,
            10,
            "the delivery recorded",
        )
        log = client.get(f"/admin/webhooks/{subscription_id}").text
        assert '<span class="code" dir="ltr">200</span>' in log


def test_a_call_ending_puts_the_event_in_the_outbox_without_sending(
    app_session: Session,
) -> None:
    """The event-applying path writes a row and nothing else: with no
    sender running and the receiver's port closed, applying call.ended
    returns at once, its delivery waiting."""
    subscription = _subscribe(
        app_session, f"http://127.0.0.1:{free_port()}/dead", "call.ended", "appointment.booked"
    )
    other = _subscribe(app_session, "http://127.0.0.1:9/other", "disposition.set")
    campaign = make_campaign(app_session)
    call = make_call(app_session, campaign, None, state=CallState.RINGING)
    app_session.commit()

    calls.apply_event(app_session, CallEnded(call_id=call.id, outcome="no_answer", sip_status=480))
    app_session.commit()

    (delivery,) = _deliveries(app_session)
    assert delivery.subscription_id == subscription.id != other.id
    assert (delivery.event_type, delivery.status, delivery.attempts) == (
        "call.ended",
        WebhookDeliveryStatus.PENDING,
        0,
    )
    assert delivery.payload["data"]["call_id"] == call.id
    assert delivery.payload["data"]["outcome"] == "no_answer"


def test_a_receiver_that_fails_or_hangs_is_tried_again_until_it_answers(
    app_session: Session, sender: WebhookWorker
) -> None:
    with receiver(500, HANG, 200) as crm:
        subscription = _subscribe(app_session, crm.url, "call.ended")
        webhooks.enqueue(app_session, "call.ended", {"call_id": "c1"})
        app_session.commit()
        sender.start()
        wait_until(
            lambda: _deliveries(app_session)[0].status is WebhookDeliveryStatus.DELIVERED,
            20,
            "delivery after retries",
        )
        crm.released.set()

    (delivery,) = _deliveries(app_session)
    attempts = app_session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
    ).all()
    assert [(a.status_code, a.error) for a in attempts] == [
        (500, ""),
        (None, "timeout"),
        (200, ""),
    ]
    assert delivery.attempts == 3
    ids = {got.headers["X-Callcenter-Delivery"] for got in crm.received}
    assert ids == {delivery.event_id}, "one event id on every try"
    assert all(got.signed_by(subscription.secret) for got in crm.received)
    assert len(crm.received) == 3


def test_a_receiver_that_never_answers_well_is_given_up_after_the_last_try(
    app_session: Session, sender: WebhookWorker
) -> None:
    with receiver(*[503] * 10) as crm:
        _subscribe(app_session, crm.url, "lead.exhausted")
        webhooks.enqueue(app_session, "lead.exhausted", {"lead_id": 1})
        app_session.commit()
        sender.start()
        wait_until(
            lambda: _deliveries(app_session)[0].status is WebhookDeliveryStatus.FAILED,
            20,
            "giving up",
        )
    assert len(crm.received) == FAST.max_attempts
    assert _deliveries(app_session)[0].last_status_code == 503


def test_the_backoff_doubles_up_to_its_ceiling() -> None:
    settings = WebhookSettings(first_retry_seconds=30, max_retry_seconds=3600)
    delays = [webhooks.retry_delay(settings, n) for n in range(1, 10)]
    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert delays[-1] == timedelta(hours=1)


def test_a_lease_left_by_a_dead_sender_runs_out_and_the_delivery_is_sent(
    sqlite_database: Database, app_session: Session
) -> None:
    with receiver() as crm:
        _subscribe(app_session, crm.url, "callback.due")
        webhooks.enqueue(app_session, "callback.due", {"callback_id": 7})
        app_session.commit()
        (taken,) = webhooks.claim_due(sqlite_database, FAST, limit=5)
        assert webhooks.claim_due(sqlite_database, FAST, limit=5) == [], "leased"
        later = utcnow() + timedelta(seconds=FAST.timeout_seconds * 3 + 6)
        (again,) = webhooks.claim_due(sqlite_database, FAST, limit=5, now=later)
        assert again.delivery_id == taken.delivery_id


def test_a_poll_with_nothing_due_takes_no_write_lock(sqlite_database: Database) -> None:
    """Another writer holds SQLite's write lock (an import, a busy floor): a
    sender polling with nothing due answers at once instead of queueing for
    the lock (busy_timeout) and, after 30 s, failing."""
    sqlite_database.ping()  # the file in WAL mode, as the app's first connection leaves it
    writer = sqlite3.connect(sqlite_database.engine.url.database or "", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        assert webhooks.claim_due(sqlite_database, FAST, limit=5) == []
    finally:
        writer.execute("ROLLBACK")
        writer.close()
