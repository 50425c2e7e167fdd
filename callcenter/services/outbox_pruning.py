"""Forget the webhook delivery log and the SMS sent long ago: both get a row
per event (per receiver) or per text, and would otherwise grow for ever.

Only what is settled goes: a delivery delivered or given up (with its
attempts), an SMS sent, delivered or failed, once older than its retention
(`webhooks.retention_days`, `sms.retention_days`; 30 days by default). What is
still to be sent stays whatever its age. Run by `callcenter consume` with the
processed events' pruning (callcenter.services.event_pruning), and by
`callcenter events prune`; batches of BATCH rows, each in its own short
transaction, so the senders' updates never wait long."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.models import (
    SmsMessage,
    SmsStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
)

log = logging.getLogger(__name__)

BATCH = 5_000
MAX_BATCHES = 100


@dataclass(frozen=True)
class Pruned:
    webhook_deliveries: int
    sms_messages: int


def prune_webhook_batch(session: Session, *, before: datetime, batch: int = BATCH) -> int:
    """Delete up to `batch` of the oldest settled deliveries made before
    `before`, with their attempts."""
    ids = list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.created_at < before,
                WebhookDelivery.status != WebhookDeliveryStatus.PENDING,
            )
            .order_by(WebhookDelivery.created_at)
            .limit(batch)
        )
    )
    if not ids:
        return 0
    session.execute(
        delete(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    return len(ids)


def prune_sms_batch(session: Session, *, before: datetime, batch: int = BATCH) -> int:
    """Delete up to `batch` of the oldest settled SMS written before `before`."""
    ids = list(
        session.scalars(
            select(SmsMessage.id)
            .where(SmsMessage.created_at < before, SmsMessage.status != SmsStatus.QUEUED)
            .order_by(SmsMessage.created_at)
            .limit(batch)
        )
    )
    if ids:
        session.execute(
            delete(SmsMessage)
            .where(SmsMessage.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
    return len(ids)


def prune(
    database: Database,
    *,
    now: datetime,
    webhook_retention: timedelta,
    sms_retention: timedelta,
    batch: int = BATCH,
    max_batches: int = MAX_BATCHES,
) -> Pruned:
    webhook_rows = _in_batches(
        database,
        lambda session: prune_webhook_batch(session, before=now - webhook_retention, batch=batch),
        batch,
        max_batches,
    )
    sms_rows = _in_batches(
        database,
        lambda session: prune_sms_batch(session, before=now - sms_retention, batch=batch),
        batch,
        max_batches,
    )
    if webhook_rows or sms_rows:
        log.info(
            "pruned %d webhook deliveries and %d SMS past their retention", webhook_rows, sms_rows
        )
    return Pruned(webhook_rows, sms_rows)


def _in_batches(
    database: Database, one_batch: Callable[[Session], int], batch: int, max_batches: int
) -> int:
    deleted = 0
    for _ in range(max_batches):
        with database.unit_of_work() as session:
            done = one_batch(session)
        deleted += done
        if done < batch:
            break
    return deleted
