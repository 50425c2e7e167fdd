"""The webhook delivery log and the SMS are pruned past their retention, in
batches: what is settled and old goes (a delivery with its attempts), what
is still to be sent or is recent stays. `callcenter events prune` and
`callcenter consume` both do it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from callcenter.cli import main
from callcenter.db import Database, utcnow
from callcenter.models import (
    SmsMessage,
    SmsStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from callcenter.services import outbox_pruning, webhooks
from callcenter.states import Role
from tests.factories import make_user
from tests.integration.web_tier import environment
from tests.integration.webhooks.test_webhook_consumer import consumer
from tests.support import wait_until

OLD = timedelta(days=31)
RECENT = timedelta(days=29)
KEPT_DELIVERIES = {"pending-old", "delivered-recent"}
KEPT_SMS = {"queued-old", "delivered-recent"}


def _fill(database: Database) -> None:
    """Two of each kept, two of each to prune; each delivery with two attempts."""
    now = utcnow()
    with database.unit_of_work() as session:
        admin = make_user(session, Role.ADMIN)
        subscription = webhooks.create_subscription(
            session, name="CRM", url="http://127.0.0.1:9/hook", events=["call.ended"], actor=admin
        )
        for name, status, age in (
            ("delivered-old", WebhookDeliveryStatus.DELIVERED, OLD),
            ("failed-old", WebhookDeliveryStatus.FAILED, OLD + timedelta(days=5)),
            ("pending-old", WebhookDeliveryStatus.PENDING, OLD),
            ("delivered-recent", WebhookDeliveryStatus.DELIVERED, RECENT),
        ):
            delivery = WebhookDelivery(
                subscription_id=subscription.id,
                event_id=name,
                event_type="call.ended",
                status=status,
                next_attempt_at=now - age,
                created_at=now - age,
            )
            session.add(delivery)
            session.flush()
            session.add_all(
                WebhookAttempt(delivery_id=delivery.id, at=now - age, status_code=code)
                for code in (500, 200)
            )
        for name, sms_status, age in (
            ("sent-old", SmsStatus.SENT, OLD),
            ("failed-old", SmsStatus.FAILED, OLD),
            ("queued-old", SmsStatus.QUEUED, OLD),
            ("delivered-recent", SmsStatus.DELIVERED, RECENT),
        ):
            session.add(
                SmsMessage(
                    kind="booking",
                    to_e164="+989121234567",
                    text=name,
                    status=sms_status,
                    created_at=now - age,
                )
            )


def _left(database: Database) -> tuple[set[str], set[str], int]:
    with database.read_sessions() as session:
        deliveries = set(session.scalars(select(WebhookDelivery.event_id)))
        sms = set(session.scalars(select(SmsMessage.text)))
        attempts = session.scalar(select(func.count(WebhookAttempt.id)))
    return deliveries, sms, int(attempts or 0)


def test_old_settled_rows_are_pruned_in_batches_and_the_rest_kept(database: Database) -> None:
    _fill(database)
    pruned = outbox_pruning.prune(
        database,
        now=utcnow(),
        webhook_retention=timedelta(days=30),
        sms_retention=timedelta(days=30),
        batch=1,
    )
    assert pruned == outbox_pruning.Pruned(webhook_deliveries=2, sms_messages=2)
    assert _left(database) == (KEPT_DELIVERIES, KEPT_SMS, 4)
    again = outbox_pruning.prune(
        database, now=utcnow(), webhook_retention=timedelta(days=30), sms_retention=OLD * 2
    )
    assert again == outbox_pruning.Pruned(0, 0)


def test_the_retention_is_a_setting_each(sqlite_database: Database) -> None:
    _fill(sqlite_database)
    pruned = outbox_pruning.prune(
        sqlite_database,
        now=utcnow(),
        webhook_retention=timedelta(days=60),
        sms_retention=timedelta(days=1),
    )
    assert pruned == outbox_pruning.Pruned(webhook_deliveries=0, sms_messages=3)


def test_events_prune_on_the_command_line(tmp_path: Path) -> None:
    env = {"CC_INSTANCE_PATH": str(tmp_path / "instance"), "CC_CONFIG": ""}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    database = Database(f"sqlite:///{tmp_path / 'instance' / 'callcenter.db'}")
    _fill(database)
    result = runner.invoke(
        main, ["events", "prune"], env={**env, "CC_SMS__RETENTION_DAYS": "60"},
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 webhook deliveries forgotten" in result.output
    assert "0 SMS forgotten" in result.output
    deliveries, sms, _attempts = _left(database)
    assert deliveries == KEPT_DELIVERIES
    assert len(sms) == 4
    database.dispose()


@pytest.mark.redis
@pytest.mark.timeout(120)
def test_the_consumer_prunes_on_its_rounds(tmp_path: Path, redis_url: str) -> None:
    env = environment(tmp_path, redis_url)
    database = Database(f"sqlite:///{tmp_path / 'instance' / 'callcenter.db'}")
    _fill(database)

    def pruned() -> bool:
        # The consumer's senders work on what is kept meanwhile (a new attempt
        # at the pending delivery): only which rows are left is compared.
        deliveries, sms, _attempts = _left(database)
        return deliveries == KEPT_DELIVERIES and sms == KEPT_SMS

    with consumer(env, tmp_path, "pruning") as process:
        wait_until(
            pruned,
            60,
            "the consumer's pruning",
            process,
            tmp_path / "pruning.log",
        )
    database.dispose()
