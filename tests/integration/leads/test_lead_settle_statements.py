"""The settle of an unanswered call's lead (`settle_dialing_attempt`) goes by
statements when the session holds neither the lead nor a callback as an
object, and through the ORM object otherwise: twin leads settled both ways
come out with the same lead row, state changes, callbacks and webhook
deliveries. On PostgreSQL a settle that waited for the lead's lock sees what
the transaction it waited for committed."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callcenter.db import Database
from callcenter.models import (
    Call,
    Callback,
    CallbackStatus,
    Lead,
    LeadStateChange,
    WebhookDelivery,
)
from callcenter.services import lead_lifecycle, webhooks
from callcenter.services.disposition_codes import ChosenDisposition
from callcenter.states import CallOutcome, DispositionCategory, LeadState, Role
from tests.factories import make_campaign, make_lead, make_user
from tests.support import statements

NOW = datetime(2025, 1, 4, 8, 0, tzinfo=UTC)
SETTLED_AT = NOW + timedelta(minutes=1)


def _dialing_twins(
    database: Database,
    *,
    max_attempts: int,
    with_callback: bool,
    subscribed: bool,
    by_hand_from: LeadState | None = None,
) -> tuple[int, int]:
    """Two leads of one campaign, each claimed and dialed (call `call-<id>`),
    each with a pending callback if asked; claimed by an agent's manual dial
    from `by_hand_from` (after one attempt) when given."""
    with database.unit_of_work() as session:
        campaign = make_campaign(
            session, max_attempts=max_attempts, retry_delays_minutes={"no_answer": 45}
        )
        agent = make_user(session, Role.AGENT)
        if subscribed:
            admin = make_user(session, Role.ADMIN)
            webhooks.create_subscription(
                session,
                name="CRM",
                url="https://crm.example/hook",
                events=["lead.exhausted"],
                actor=admin,
            )
        twins = []
        for _ in range(2):
            if by_hand_from is None:
                lead = make_lead(session, campaign)
                lead_lifecycle.claim_attempt(session, lead.id, now=NOW)
            else:
                lead = make_lead(session, campaign, state=by_hand_from, attempts=1)
                lead_lifecycle.claim_by_hand(
                    session, lead.id, phone=lead.customer.phone_e164, now=NOW
                )
            session.add(_call(lead))
            if with_callback:
                session.add(
                    Callback(
                        lead_id=lead.id,
                        customer_id=lead.customer_id,
                        campaign_id=lead.campaign_id,
                        due_at=NOW,
                        created_by_id=agent.id,
                    )
                )
            twins.append(lead.id)
        return twins[0], twins[1]


def _call(lead: Lead) -> Call:
    return Call(
        id=f"call-{lead.id}",
        campaign_id=lead.campaign_id,
        lead_id=lead.id,
        customer_id=lead.customer_id,
        attempt=lead.attempts,
        phone_e164=lead.customer.phone_e164,
        dialed_at=NOW,
    )


def _settle(session: Session, lead_id: int, outcome: CallOutcome) -> None:
    lead_lifecycle.settle_dialing_attempt(
        session, lead_id=lead_id, call_id=f"call-{lead_id}", outcome=outcome, now=SETTLED_AT
    )


def _left(database: Database, lead_id: int) -> dict[str, Any]:
    """What a settle wrote about the lead, its and its customer's ids left out."""
    twins_differ = ("lead_id", "customer_id")
    with database.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        changes = session.execute(
            select(
                LeadStateChange.from_state,
                LeadStateChange.to_state,
                LeadStateChange.reason,
                LeadStateChange.call_id,
                LeadStateChange.at,
            )
            .where(LeadStateChange.lead_id == lead_id)
            .order_by(LeadStateChange.id)
        ).all()
        callbacks = session.scalars(select(Callback.status).where(Callback.lead_id == lead_id))
        sent = [
            (d.event_type, {k: v for k, v in d.payload["data"].items() if k not in twins_differ})
            for d in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
            if d.payload["data"].get("lead_id") == lead_id
        ]
        return {
            "lead": (
                lead.state,
                lead.attempts,
                lead.next_attempt_at,
                lead.last_outcome,
                lead.updated_at,
            ),
            "changes": [(*c[:3], c.call_id == f"call-{lead_id}", c.at) for c in changes],
            "callbacks": list(callbacks),
            "webhooks": sent,
        }


def _settled_both_ways(
    database: Database, twins: tuple[int, int], outcome: CallOutcome
) -> tuple[dict[str, Any], list[str]]:
    """The first twin settled by statements, the second through its ORM
    object; what both left (the same, asserted) and the first's statements."""
    fast, slow = twins
    with database.unit_of_work() as session, statements(database) as seen:
        _settle(session, fast, outcome)
    with database.unit_of_work() as session:
        assert session.get(Lead, slow) is not None  # held: the ORM object's way
        _settle(session, slow, outcome)
    by_statements, by_object = _left(database, fast), _left(database, slow)
    assert by_statements == by_object
    return by_statements, seen


@pytest.mark.parametrize(
    ("outcome", "max_attempts", "with_callback", "state"),
    [
        (CallOutcome.NO_ANSWER, 5, False, LeadState.RETRY),
        (CallOutcome.BUSY, 5, True, LeadState.RETRY),
        (CallOutcome.NO_ANSWER, 1, True, LeadState.EXHAUSTED),
        (CallOutcome.INVALID_NUMBER, 5, False, LeadState.INVALID),
    ],
)
def test_a_settle_by_statements_writes_what_the_objects_way_writes(
    database: Database,
    outcome: CallOutcome,
    max_attempts: int,
    with_callback: bool,
    state: LeadState,
) -> None:
    twins = _dialing_twins(
        database, max_attempts=max_attempts, with_callback=with_callback, subscribed=True
    )
    by_statements, seen = _settled_both_ways(database, twins, outcome)
    assert by_statements["lead"][0] is state
    assert by_statements["changes"][-1][:2] == (LeadState.DIALING, state)
    if with_callback:
        assert by_statements["callbacks"] == [CallbackStatus.MISSED]
    if state is LeadState.EXHAUSTED:
        assert [event for event, _ in by_statements["webhooks"]] == ["lead.exhausted"]
    else:  # the lock, then the writes: one statement on PostgreSQL, three on SQLite
        assert not by_statements["webhooks"]
        postgres = database.engine.dialect.name == "postgresql"
        written = [s for s in seen if not s.startswith("BEGIN")]
        assert len(written) == (2 if postgres else 4), seen
    if outcome is CallOutcome.NO_ANSWER and state is LeadState.RETRY:
        assert by_statements["lead"][2] == SETTLED_AT + timedelta(minutes=45)


@pytest.mark.parametrize(
    ("by_hand_from", "outcome", "state"),
    [
        (LeadState.REJECTED, CallOutcome.NO_ANSWER, LeadState.REJECTED),
        (LeadState.REJECTED, CallOutcome.BUSY, LeadState.REJECTED),
        (LeadState.REJECTED, CallOutcome.INVALID_NUMBER, LeadState.INVALID),
        (LeadState.RETRY, CallOutcome.NO_ANSWER, LeadState.RETRY),
    ],
)
def test_a_customer_who_said_no_dialed_by_hand_and_not_reached_stays_rejected(
    database: Database, by_hand_from: LeadState, outcome: CallOutcome, state: LeadState
) -> None:
    """Not a retry the dialer would then call on its own, both ways of settling."""
    twins = _dialing_twins(
        database, max_attempts=5, with_callback=False, subscribed=False, by_hand_from=by_hand_from
    )
    by_statements, _ = _settled_both_ways(database, twins, outcome)
    assert by_statements["lead"][0] is state
    if state is LeadState.REJECTED:
        assert by_statements["lead"][2] is None  # no next attempt
        assert by_statements["changes"][-1][2].endswith("dialed by hand, rejected before")


def test_a_customer_who_said_no_and_answered_without_a_decision_stays_rejected(
    database: Database,
) -> None:
    lead_id, _ = _dialing_twins(
        database,
        max_attempts=5,
        with_callback=False,
        subscribed=False,
        by_hand_from=LeadState.REJECTED,
    )
    with database.unit_of_work() as session:
        lead_lifecycle.settle_attempt(
            session,
            lead_id=lead_id,
            call_id=f"call-{lead_id}",
            outcome=CallOutcome.ANSWERED,
            disposition=ChosenDisposition("no_decision", DispositionCategory.RETRY, None),
            now=SETTLED_AT,
        )
    assert _left(database, lead_id)["lead"][0] is LeadState.REJECTED


def test_a_lead_no_longer_dialing_is_left_as_it_is(database: Database) -> None:
    lead_id, _ = _dialing_twins(database, max_attempts=5, with_callback=True, subscribed=False)
    with database.unit_of_work() as session:
        _settle(session, lead_id, CallOutcome.NO_ANSWER)
    settled = _left(database, lead_id)

    with database.unit_of_work() as session:
        _settle(session, lead_id, CallOutcome.BUSY)
        lead_lifecycle.settle_dialing_attempt(
            session, lead_id=999_999, call_id=f"call-{lead_id}", outcome=CallOutcome.BUSY, now=NOW
        )

    assert _left(database, lead_id) == settled


def test_a_callback_the_session_holds_is_closed_in_it(database: Database) -> None:
    lead_id, _ = _dialing_twins(database, max_attempts=5, with_callback=True, subscribed=False)
    with database.unit_of_work() as session:
        callback = session.scalars(select(Callback).where(Callback.lead_id == lead_id)).one()
        _settle(session, lead_id, CallOutcome.NO_ANSWER)
        assert callback.status is CallbackStatus.MISSED


def test_a_settle_that_waited_for_the_lead_sees_what_it_waited_for(
    postgres_database: Database,
) -> None:
    """The transaction holding the lead books a callback and counts its last
    attempt: the settle waiting for it closes that callback and exhausts the lead."""
    database = postgres_database
    lead_id, _ = _dialing_twins(database, max_attempts=2, with_callback=False, subscribed=False)
    holder = database.sessions()
    holder.execute(select(Lead.id).where(Lead.id == lead_id).with_for_update())
    agent_id = make_user(holder, Role.AGENT).id
    lead = holder.get(Lead, lead_id)
    assert lead is not None
    holder.add(
        Callback(
            lead_id=lead_id,
            customer_id=lead.customer_id,
            campaign_id=lead.campaign_id,
            due_at=NOW,
            created_by_id=agent_id,
        )
    )
    holder.execute(update(Lead).where(Lead.id == lead_id).values(attempts=2))
    holder.flush()

    failed: list[BaseException] = []

    def settle() -> None:
        try:
            with database.unit_of_work() as session:
                _settle(session, lead_id, CallOutcome.NO_ANSWER)
        except BaseException as exc:  # reported by the test's thread
            failed.append(exc)

    waiting = threading.Thread(target=settle)
    waiting.start()
    time.sleep(0.5)
    assert waiting.is_alive()  # waiting for the lead's lock
    holder.commit()
    holder.close()
    waiting.join(10)
    assert not failed

    left = _left(database, lead_id)
    assert left["lead"][0] is LeadState.EXHAUSTED
    assert left["callbacks"] == [CallbackStatus.MISSED]
