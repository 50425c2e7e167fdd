"""A customer rang a campaign's number back and no agent was free within
the campaign's wait: they heard the message, and a callback for anyone is
booked, due at once (the hopper dials it for the next free agent)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from callcenter.models import Call, Callback, Lead, LeadStateChange
from callcenter.services import audit, lead_lifecycle
from callcenter.states import LEAD_TRANSITIONS, LeadState

MISSED = "call.ring_back_missed"


def book_callback(session: Session, call: Call, *, at: datetime) -> Callback | None:
    """Nobody was free: a callback for anyone, due now, when the lead may
    take one (a lead on DNC or closed with a sale does not)."""
    lead = session.get(Lead, call.lead_id, with_for_update=True)
    assert lead is not None
    if (
        lead.state is not LeadState.CALLBACK
        and LeadState.CALLBACK not in LEAD_TRANSITIONS[lead.state]
    ):
        audit.record(
            session,
            MISSED,
            actor=None,
            target_type="call",
            target_id=call.id,
            details={"callback": False, "lead_state": str(lead.state)},
        )
        return None
    lead_lifecycle.close_pending_callbacks(session, lead.id, answered=False)
    session.add(
        LeadStateChange(
            lead_id=lead.id,
            from_state=lead.state,
            to_state=LeadState.CALLBACK,
            reason="rang back, no agent was free",
            call_id=call.id,
            at=at,
        )
    )
    lead.state = LeadState.CALLBACK
    lead.next_attempt_at = at
    lead.last_outcome = str(call.outcome) if call.outcome else None
    lead.updated_at = at
    callback = Callback(
        lead_id=lead.id,
        customer_id=lead.customer_id,
        campaign_id=lead.campaign_id,
        due_at=at,
        assigned_agent_id=None,
        created_by_id=None,
        call_id=call.id,
    )
    session.add(callback)
    session.flush()
    audit.record(
        session,
        MISSED,
        actor=None,
        target_type="call",
        target_id=call.id,
        details={"callback": True, "callback_id": callback.id},
    )
    return callback
