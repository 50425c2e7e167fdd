"""Callbacks past their time that nobody has called yet, as the live floor
shows them, and a supervisor's reassignment of one to another agent (or to
anyone on the campaign)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from callcenter.errors import N_, Conflict, NotFound
from callcenter.models import Callback, CallbackStatus, Customer, Lead, User
from callcenter.services import audit
from callcenter.states import LeadState

OVERDUE_AFTER = timedelta(minutes=5)
"""A callback not called this long after its time is overdue (a due one
usually goes out within a minute or two)."""
MAX_SHOWN = 200


def overdue(
    session: Session, campaign_ids: Sequence[int], *, now: datetime, limit: int = MAX_SHOWN
) -> list[dict[str, Any]]:
    """Pending callbacks of these campaigns past their time by OVERDUE_AFTER
    whose lead is still waiting for them, oldest first."""
    if not campaign_ids:
        return []
    agent = aliased(User)
    query = (
        select(
            Callback.id,
            Callback.campaign_id,
            Callback.due_at,
            Callback.assigned_agent_id,
            Callback.note,
            agent.full_name,
            Customer.title,
            Customer.first_name,
            Customer.last_name,
        )
        .join(Lead, Lead.id == Callback.lead_id)
        .join(Customer, Customer.id == Callback.customer_id)
        .outerjoin(agent, agent.id == Callback.assigned_agent_id)
        .where(
            Callback.campaign_id.in_(list(campaign_ids)),
            Callback.status == CallbackStatus.PENDING,
            Callback.due_at <= now - OVERDUE_AFTER,
            Lead.state == LeadState.CALLBACK,
        )
        .order_by(Callback.due_at, Callback.id)
        .limit(limit)
    )
    return [
        {
            "callback_id": row.id,
            "campaign_id": row.campaign_id,
            "due_at": row.due_at.isoformat(),
            "agent_id": row.assigned_agent_id,
            "agent_name": row.full_name,
            "customer": " ".join(p for p in (row.title, row.first_name, row.last_name) if p),
            "note": row.note,
        }
        for row in session.execute(query)
    ]


def get_callback(session: Session, callback_id: int) -> Callback:
    callback = session.get(Callback, callback_id)
    if callback is None:
        raise NotFound(N_("No such callback."), details={"callback_id": callback_id})
    return callback


def reassign(
    session: Session, callback: Callback, agent: User | None, *, actor: User, now: datetime
) -> Callback:
    """Give a pending callback to `agent` (None: anyone on the campaign), due
    now: the campaign's wait for its own agent starts again from now."""
    if callback.status is not CallbackStatus.PENDING:
        raise Conflict(
            N_("This callback is no longer waiting: it was called or cancelled."),
            details={"callback_id": callback.id},
        )
    lead = session.get(Lead, callback.lead_id, with_for_update=True)
    if lead is None or lead.state is not LeadState.CALLBACK:
        raise Conflict(
            N_("This callback's customer is being called or was settled meanwhile."),
            details={"callback_id": callback.id},
        )
    was_agent, was_due = callback.assigned_agent_id, callback.due_at
    callback.assigned_agent_id = agent.id if agent is not None else None
    callback.due_at = now
    callback.alerted_at = None  # due anew: announced again, to its new agent
    lead.next_attempt_at = now
    lead.updated_at = now
    session.flush()
    audit.record(
        session,
        "callback.reassigned",
        actor=actor,
        target_type="callback",
        target_id=callback.id,
        details={
            "campaign_id": callback.campaign_id,
            "from_agent_id": was_agent,
            "to_agent_id": callback.assigned_agent_id,
            "was_due_at": was_due.isoformat(),
        },
    )
    return callback
