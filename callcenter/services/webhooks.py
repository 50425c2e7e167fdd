"""Webhooks: subscriptions per event, a durable outbox, signed deliveries.

A change that other systems hear of writes one `WebhookDelivery` row per
subscriber in its own transaction (`enqueue`): no network on that path. The
consumer process's sender (callcenter.webhook_worker) claims due rows with a
lease, posts them with a timeout and records each attempt; a failure is
retried with exponential backoff, and a sender that dies leaves its rows to
be claimed again when the lease runs out (at-least-once: receivers dedupe by
the X-Callcenter-Delivery id).

Each request carries:
  X-Callcenter-Event: the event type (call.ended, ...)
  X-Callcenter-Delivery: the event's id (the same on every retry)
  X-Callcenter-Timestamp: Unix seconds when this attempt was signed
  X-Callcenter-Signature: sha256=HEX, HMAC-SHA256 with the subscription's
    secret over "<timestamp>.<body>" (the raw body bytes)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import Row, exists, or_, select, update
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.errors import N_, InvalidInput, NotFound
from callcenter.models import (
    Appointment,
    Call,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookSubscription,
)
from callcenter.services import audit
from callcenter.settings import WebhookSettings

EVENTS = (
    "call.ended",
    "disposition.set",
    "appointment.booked",
    "appointment.cancelled",
    "lead.exhausted",
    "callback.due",
)
TEST_EVENT = "webhook.test"
USER_AGENT = "callcenter-webhooks/1"


# --- subscriptions -------------------------------------------------------------------------


def create_subscription(
    session: Session, *, name: str, url: str, events: Iterable[str], actor: User
) -> WebhookSubscription:
    chosen = [event for event in EVENTS if event in set(events)]
    if not name.strip():
        raise InvalidInput(N_("give the webhook a name"), details={"field": "name"})
    if not chosen:
        raise InvalidInput(N_("choose at least one event"), details={"field": "events"})
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            N_("the address must start with https:// or http://"), details={"field": "url"}
        )
    subscription = WebhookSubscription(
        name=name.strip()[:120],
        url=url.strip()[:500],
        secret=secrets.token_hex(32),
        events=chosen,
        created_by_id=actor.id,
    )
    session.add(subscription)
    session.flush()
    audit.record(
        session,
        "webhook.created",
        actor=actor,
        target_type="webhook",
        target_id=subscription.id,
        details={"url": subscription.url, "events": chosen},
    )
    return subscription


def set_active(
    session: Session, subscription: WebhookSubscription, active: bool, *, actor: User
) -> None:
    if subscription.is_active == active:
        return
    subscription.is_active = active
    session.flush()
    audit.record(
        session,
        "webhook.enabled" if active else "webhook.disabled",
        actor=actor,
        target_type="webhook",
        target_id=subscription.id,
    )


def get_subscription(session: Session, subscription_id: int) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound(N_("no such webhook"), details={"webhook_id": subscription_id})
    return subscription


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


@dataclass(frozen=True)
class LoggedDelivery:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def delivery_log(
    session: Session, subscription_id: int, *, limit: int = 50
) -> list[LoggedDelivery]:
    deliveries = list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )
    attempts: dict[int, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    if deliveries:
        for attempt in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.id)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return [LoggedDelivery(delivery, attempts[delivery.id]) for delivery in deliveries]


# --- the outbox ----------------------------------------------------------------------------


# Built once (its construction and cache key cost more than its round trip):
# every call.ended reads it.
_ACTIVE_SUBSCRIPTIONS = select(WebhookSubscription.id, WebhookSubscription.events).where(
    WebhookSubscription.is_active.is_(True)
)


ANY_ACTIVE = exists().where(WebhookSubscription.is_active.is_(True)).label("webhooks_active")
"""Whether any subscription is active, read beside a caller's own row in the
same transaction (`enqueue`'s `any_active`): with none (most installs) the
subscriptions are not read again."""


def enqueue(
    session: Session,
    event_type: str,
    data: Mapping[str, Any],
    *,
    now: datetime | None = None,
    any_active: bool = True,
) -> list[WebhookDelivery]:
    """One delivery per active subscriber of `event_type`, in the caller's
    transaction (nothing is sent here). `any_active`: False when the caller
    read `ANY_ACTIVE` earlier in this transaction and no subscription was
    active then."""
    if not any_active:
        return []
    subscribers = [
        subscription_id
        for subscription_id, events in session.execute(_ACTIVE_SUBSCRIPTIONS)
        if event_type in (events or [])
    ]
    return [_add(session, s, event_type, data, now or utcnow()) for s in subscribers]


def enqueue_test(session: Session, subscription: WebhookSubscription, *, actor: User) -> None:
    """The "send test" button: a webhook.test event to this subscriber alone."""
    delivery = _add(
        session, subscription.id, TEST_EVENT, {"message": "test from callcenter"}, utcnow()
    )
    audit.record(
        session,
        "webhook.test_sent",
        actor=actor,
        target_type="webhook",
        target_id=subscription.id,
        details={"delivery_id": delivery.id},
    )


def _add(
    session: Session,
    subscription_id: int,
    event_type: str,
    data: Mapping[str, Any],
    now: datetime,
) -> WebhookDelivery:
    event_id = uuid.uuid4().hex
    delivery = WebhookDelivery(
        subscription_id=subscription_id,
        event_id=event_id,
        event_type=event_type,
        payload={
            "id": event_id,
            "type": event_type,
            "created_at": now.isoformat(),
            "data": json.loads(json.dumps(dict(data), default=_jsonable)),
        },
        next_attempt_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery


CALL_COLUMNS = (
    "id",
    "campaign_id",
    "lead_id",
    "customer_id",
    "agent_id",
    "phone_e164",
    "outcome",
    "dialed_at",
    "answered_at",
    "connected_at",
    "ended_at",
)
"""What `call_data` reads of a call (a `Call`, or a row of these columns)."""


def call_data(call: Call | Row[Any]) -> dict[str, Any]:
    return {
        "call_id": call.id,
        "campaign_id": call.campaign_id,
        "lead_id": call.lead_id,
        "customer_id": call.customer_id,
        "agent_id": call.agent_id,
        "phone": call.phone_e164,
        "outcome": str(call.outcome) if call.outcome is not None else None,
        "dialed_at": call.dialed_at,
        "answered_at": call.answered_at,
        "connected_at": call.connected_at,
        "ended_at": call.ended_at,
    }


def appointment_data(appointment: Appointment) -> dict[str, Any]:
    return {
        "appointment_id": appointment.id,
        "campaign_id": appointment.campaign_id,
        "lead_id": appointment.lead_id,
        "call_id": appointment.call_id,
        "customer_id": appointment.customer_id,
        "owner_id": appointment.owner_id,
        "starts_at": appointment.starts_at,
        "ends_at": appointment.ends_at,
        "kind": str(appointment.kind),
        "location": appointment.location,
        "meeting_link": appointment.meeting_link,
        "status": str(appointment.status),
    }


def _jsonable(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


# --- sending -------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    url: str
    secret: str
    event_type: str
    event_id: str
    body: bytes


def claim_due(
    database: Database, settings: WebhookSettings, *, limit: int, now: datetime | None = None
) -> list[Claimed]:
    """Due deliveries, leased to this sender for longer than one try takes.
    Looked for with a read first: on SQLite a unit of work takes the write
    lock, which every sender's poll would otherwise take several times a
    second with nothing due."""
    now = now or utcnow()
    lease = now + timedelta(seconds=settings.timeout_seconds * 3 + 5)
    due = (
        WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now),
    )
    with database.read_sessions() as session:
        if session.scalar(select(WebhookDelivery.id).where(*due).limit(1)) is None:
            return []
    claimed: list[Claimed] = []
    with database.unit_of_work() as session:
        query = (
            select(WebhookDelivery, WebhookSubscription)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(*due)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        for delivery, subscription in session.execute(query).tuples():
            delivery.leased_until = lease
            body = json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True).encode()
            claimed.append(
                Claimed(
                    delivery.id,
                    subscription.url,
                    subscription.secret,
                    delivery.event_type,
                    delivery.event_id,
                    body,
                )
            )
    return claimed


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(claimed: Claimed, settings: WebhookSettings, http: requests.Session) -> Outcome:
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Callcenter-Event": claimed.event_type,
        "X-Callcenter-Delivery": claimed.event_id,
        "X-Callcenter-Timestamp": str(timestamp),
        "X-Callcenter-Signature": sign(claimed.secret, timestamp, claimed.body),
    }
    started = time.monotonic()
    try:
        response = http.post(
            claimed.url,
            data=claimed.body,
            headers=headers,
            timeout=settings.timeout_seconds,
            allow_redirects=False,
        )
    except requests.Timeout:
        return Outcome(None, "timeout", _ms_since(started))
    except requests.RequestException as exc:
        return Outcome(None, type(exc).__name__, _ms_since(started))
    response.close()
    return Outcome(response.status_code, "", _ms_since(started))


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def record(
    database: Database,
    settings: WebhookSettings,
    delivery_id: int,
    outcome: Outcome,
    *,
    now: datetime | None = None,
) -> WebhookDeliveryStatus:
    """The attempt in the log; the delivery delivered, retried later, or failed."""
    now = now or utcnow()
    with database.unit_of_work() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:  # its subscription was deleted meanwhile
            return WebhookDeliveryStatus.FAILED
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        delivery.attempts += 1
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        delivery.leased_until = None
        if outcome.delivered:
            delivery.status = WebhookDeliveryStatus.DELIVERED
            delivery.delivered_at = now
        elif delivery.attempts >= settings.max_attempts:
            delivery.status = WebhookDeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = now + retry_delay(settings, delivery.attempts)
        return delivery.status


def retry_delay(settings: WebhookSettings, attempts: int) -> timedelta:
    """first_retry_seconds after the first failure, doubled after each one after."""
    seconds = settings.first_retry_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.max_retry_seconds))


def next_due(database: Database) -> datetime | None:
    with database.read_sessions() as session:
        return session.scalar(
            select(WebhookDelivery.next_attempt_at)
            .where(WebhookDelivery.status == WebhookDeliveryStatus.PENDING)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(1)
        )


def release_leases(database: Database, delivery_ids: list[int]) -> None:
    """Given back unsent (the sender is stopping): due again at once."""
    if not delivery_ids:
        return
    with database.unit_of_work() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(delivery_ids))
            .values(leased_until=None)
        )
