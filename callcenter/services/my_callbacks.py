"""An agent's own callbacks: the list (pending ones booked for them, soonest
first), reschedule, cancel, and the alert pushed to their screen once a
callback comes due (`alert_due`, run by the floor's periodic sweep)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from callcenter.dates import format_datetime
from callcenter.db import utcnow
from callcenter.errors import N_, Conflict, InvalidInput, NotFound
from callcenter.models import Callback, CallbackStatus, Campaign, Customer, Lead, LeadStateChange
from callcenter.realtime import emit_after_commit
from callcenter.realtime.rooms import agent_room
from callcenter.scheduling import format_phone
from callcenter.services import agents, audit, webhooks
from callcenter.states import LEAD_TRANSITIONS, LeadState, advance

CALLBACK_DUE = "callback_due"
MAX_LISTED = 200


def list_mine(
    session: Session, agent_id: int, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    now = now or utcnow()
    agent = agents.agent_user(session, agent_id)
    rows = session.execute(
        select(Callback, Customer, Campaign)
        .join(Customer, Customer.id == Callback.customer_id)
        .join(Campaign, Campaign.id == Callback.campaign_id)
        .where(Callback.assigned_agent_id == agent_id, Callback.status == CallbackStatus.PENDING)
        .order_by(Callback.due_at)
        .limit(MAX_LISTED)
    )
    locale = agent.locale if agent.locale in ("fa", "en") else "fa"
    return [
        _item(callback, customer, campaign, locale, now) for callback, customer, campaign in rows
    ]


def reschedule(
    session: Session, agent_id: int, callback_id: Any, due_at: Any, *, now: datetime | None = None
) -> Callback:
    """A new time for the callback (and for its lead's next attempt); the
    due-now alert is given again at the new time."""
    now = now or utcnow()
    callback = _mine(session, agent_id, callback_id)
    when = _future(due_at, now)
    before = callback.due_at
    callback.due_at = when
    callback.alerted_at = None
    lead = session.get(Lead, callback.lead_id, with_for_update=True)
    if lead is not None and lead.state is LeadState.CALLBACK:
        advance(LEAD_TRANSITIONS, lead.state, LeadState.CALLBACK, subject=f"lead {lead.id}")
        lead.next_attempt_at = _earliest_pending(session, lead.id)
        lead.updated_at = now
        session.add(
            LeadStateChange(
                lead_id=lead.id,
                from_state=LeadState.CALLBACK,
                to_state=LeadState.CALLBACK,
                reason="callback rescheduled by its agent",
                at=now,
            )
        )
    audit.record(
        session,
        "callback.rescheduled",
        actor=agents.agent_user(session, agent_id),
        target_type="callback",
        target_id=callback.id,
        details={"from": before.isoformat(), "to": when.isoformat()},
    )
    session.flush()
    return callback


def cancel(
    session: Session, agent_id: int, callback_id: Any, *, now: datetime | None = None
) -> Callback:
    """Not to be called back after all: the lead goes back to the campaign's
    ordinary retries (unless another callback is still pending for it)."""
    now = now or utcnow()
    callback = _mine(session, agent_id, callback_id)
    callback.status = CallbackStatus.CANCELLED
    session.flush()
    lead = session.get(Lead, callback.lead_id, with_for_update=True)
    if lead is not None and lead.state is LeadState.CALLBACK:
        following = _earliest_pending(session, lead.id)
        if following is None:
            advance(LEAD_TRANSITIONS, lead.state, LeadState.RETRY, subject=f"lead {lead.id}")
            lead.state = LeadState.RETRY
            lead.next_attempt_at = now
            session.add(
                LeadStateChange(
                    lead_id=lead.id,
                    from_state=LeadState.CALLBACK,
                    to_state=LeadState.RETRY,
                    reason="callback cancelled by its agent",
                    at=now,
                )
            )
        else:
            lead.next_attempt_at = following
        lead.updated_at = now
    audit.record(
        session,
        "callback.cancelled",
        actor=agents.agent_user(session, agent_id),
        target_type="callback",
        target_id=callback.id,
    )
    session.flush()
    return callback


def any_due(session: Session, *, now: datetime) -> bool:
    """Whether `alert_due` has a callback to announce: one plain read, for
    the dialer's sweep to skip `alert_due`'s locking transaction every tick."""
    return session.scalar(_ANY_DUE, {"due_by": now}) is not None


_ANY_DUE = (
    select(Callback.id)
    .where(
        Callback.status == CallbackStatus.PENDING,
        Callback.alerted_at.is_(None),
        Callback.due_at <= bindparam("due_by"),
    )
    .limit(1)
)
"""Built once: the dialer's sweep asks every tick."""


def alert_due(session: Session, *, now: datetime | None = None) -> int:
    """Announce, once, every callback that has come due: `callback.due` to
    the webhooks, whether it is booked for an agent or for anyone on its
    campaign, and, for an agent's own, an alert pushed to their screen after
    commit. Returns how many were announced.

    Each callback is taken by a conditional update of `alerted_at`, so two
    sweeps (two dialers, or one restarted mid-sweep) never both announce it,
    on SQLite as on PostgreSQL. A reschedule or a reassignment makes it due
    anew, and it is announced again then."""
    now = now or utcnow()
    rows = list(
        session.execute(
            select(Callback, Customer, Campaign)
            .join(Customer, Customer.id == Callback.customer_id)
            .join(Campaign, Campaign.id == Callback.campaign_id)
            .where(
                Callback.status == CallbackStatus.PENDING,
                Callback.alerted_at.is_(None),
                Callback.due_at <= now,
            )
            .order_by(Callback.due_at)
            .limit(MAX_LISTED)
            .with_for_update(of=Callback, skip_locked=True)
        )
    )
    announced = 0
    for callback, customer, campaign in rows:
        if not _take_for_announcing(session, callback, now):
            continue
        announced += 1
        if callback.assigned_agent_id is not None:
            agent = agents.agent_user(session, callback.assigned_agent_id)
            locale = agent.locale if agent.locale in ("fa", "en") else "fa"
            emit_after_commit(
                session,
                CALLBACK_DUE,
                _item(callback, customer, campaign, locale, now),
                room=agent_room(agent.id),
            )
        webhooks.enqueue(
            session,
            "callback.due",
            {
                "callback_id": callback.id,
                "lead_id": callback.lead_id,
                "campaign_id": callback.campaign_id,
                "agent_id": callback.assigned_agent_id,
                "for_anyone": callback.assigned_agent_id is None,
                "due_at": callback.due_at,
                "phone": customer.phone_e164,
            },
            now=now,
        )
    session.flush()
    return announced


def _take_for_announcing(session: Session, callback: Callback, now: datetime) -> bool:
    """Mark the callback announced unless another sweep already has."""
    taken = session.execute(
        update(Callback)
        .where(Callback.id == callback.id, Callback.alerted_at.is_(None))
        .values(alerted_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire(callback, ["alerted_at"])
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def _item(
    callback: Callback, customer: Customer, campaign: Campaign, locale: str, now: datetime
) -> dict[str, Any]:
    name = " ".join(p for p in (customer.title, customer.first_name, customer.last_name) if p)
    return {
        "id": callback.id,
        "customer_id": customer.id,
        "lead_id": callback.lead_id,
        "name": name or format_phone(customer.phone_e164, locale),
        "phone_display": format_phone(customer.phone_e164, locale),
        "campaign": campaign.name,
        "campaign_id": campaign.id,
        "due_at": callback.due_at.isoformat(),
        "due": format_datetime(
            callback.due_at, locale, tz=ZoneInfo(campaign.timezone), style="short"
        ),
        "is_due": callback.due_at <= now,
        "note": callback.note,
    }


def own_pending(session: Session, agent_id: int, callback_id: Any) -> Callback:
    """The agent's own callback, still pending (else NotFound or Conflict)."""
    return _mine(session, agent_id, callback_id)


def _mine(session: Session, agent_id: int, callback_id: Any) -> Callback:
    try:
        wanted = int(callback_id)
    except (TypeError, ValueError):
        raise NotFound(N_("No such callback."), details={"callback_id": callback_id}) from None
    callback = session.get(Callback, wanted, with_for_update=True)
    if callback is None or callback.assigned_agent_id != agent_id:
        raise NotFound(N_("No such callback."), details={"callback_id": wanted})
    if callback.status is not CallbackStatus.PENDING:
        raise Conflict(
            N_("This callback is already closed."), details={"status": str(callback.status)}
        )
    return callback


def _future(value: Any, now: datetime) -> datetime:
    try:
        when = datetime.fromisoformat(str(value or ""))
    except ValueError:
        raise InvalidInput(
            N_("Choose the new date and time."), details={"field": "due_at"}
        ) from None
    if when.tzinfo is None:
        raise InvalidInput(N_("Choose the new date and time."), details={"field": "due_at"})
    if when <= now:
        raise InvalidInput(N_("The new time must be in the future."), details={"field": "due_at"})
    return when


def _earliest_pending(session: Session, lead_id: int) -> datetime | None:
    return session.scalar(
        select(Callback.due_at)
        .where(Callback.lead_id == lead_id, Callback.status == CallbackStatus.PENDING)
        .order_by(Callback.due_at)
        .limit(1)
    )
