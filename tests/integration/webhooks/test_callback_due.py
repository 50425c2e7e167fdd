"""`callback.due` reaches the webhooks once per callback that comes due,
whether it was booked for an agent or for anyone on its campaign: sweeps run
side by side, or again after a restart, never announce it twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.models import Callback, Lead, WebhookDelivery
from callcenter.services import my_callbacks, webhooks
from callcenter.states import Role
from callcenter.webhook_worker import WebhookWorker
from tests.factories import make_user
from tests.integration.agent.agent_floor import build_floor
from tests.integration.webhooks.receiver import receiver
from tests.integration.webhooks.test_webhooks import FAST
from tests.support import wait_until


def test_due_callbacks_for_an_agent_and_for_anyone_are_each_announced_once(
    database: Database,
) -> None:
    with receiver() as crm:
        with database.unit_of_work() as session:
            floor = build_floor(session)
            admin = make_user(session, Role.ADMIN)
            subscription = webhooks.create_subscription(
                session, name="CRM", url=crm.url, events=["callback.due"], actor=admin
            )
            lead = session.get(Lead, floor.lead_id)
            assert lead is not None
            due = utcnow() - timedelta(seconds=5)
            mine, anyones, later = (
                Callback(
                    lead_id=lead.id,
                    customer_id=lead.customer_id,
                    campaign_id=lead.campaign_id,
                    due_at=when,
                    assigned_agent_id=agent,
                )
                for agent, when in (
                    (floor.agent_id, due),
                    (None, due),
                    (None, utcnow() + timedelta(hours=1)),
                )
            )
            session.add_all([mine, anyones, later])
            session.flush()
            ids = {"mine": mine.id, "anyone": anyones.id, "later": later.id}
            secret = subscription.secret

        with database.read_sessions() as session:
            assert my_callbacks.any_due(session, now=utcnow())
            assert not my_callbacks.any_due(session, now=due - timedelta(seconds=1))
        with database.unit_of_work() as first, database.unit_of_work() as second:
            announced = my_callbacks.alert_due(first)
            if database.url.startswith("postgresql"):
                announced += my_callbacks.alert_due(second)
        assert announced == 2
        with database.unit_of_work() as restarted:
            assert my_callbacks.alert_due(restarted) == 0
            assert not my_callbacks.any_due(restarted, now=utcnow())  # the sweep skips it now

        with database.sessions() as session:
            payloads = [
                row.payload["data"]
                for row in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
            ]
        assert sorted(p["callback_id"] for p in payloads) == sorted([ids["mine"], ids["anyone"]])

        worker = WebhookWorker(database, FAST, poll_seconds=0.05).start()
        try:
            wait_until(lambda: len(crm.received) >= 2, 10, "both callback.due posts")
        finally:
            worker.stop()
        got = {r.payload["data"]["callback_id"]: r for r in crm.received}
        assert set(got) == {ids["mine"], ids["anyone"]}
        assert all(r.signed_by(secret) for r in got.values())
        assert all(r.headers["X-Callcenter-Event"] == "callback.due" for r in got.values())
        assert got[ids["anyone"]].payload["data"]["for_anyone"] is True
        assert got[ids["anyone"]].payload["data"]["agent_id"] is None
        assert got[ids["mine"]].payload["data"]["agent_id"] == floor.agent_id
        assert got[ids["mine"]].payload["data"]["for_anyone"] is False
