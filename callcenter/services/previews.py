"""Preview mode: the agent is shown a lead before it is dialed, then asks
for it to be dialed or skips it with a reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.bus import EventBus
from callcenter.errors import N_, Conflict, InvalidInput, NotFound
from callcenter.events import PreviewCallRequested, PreviewSkipped
from callcenter.models import AuditEntry, Campaign, Lead
from callcenter.realtime import emit_after_commit
from callcenter.realtime.rooms import agent_room
from callcenter.services import agents, audit
from callcenter.services.bus_outbox import publish_after_commit
from callcenter.services.customer_history import lead_card
from callcenter.states import AgentState

PREVIEW_OFFER = "preview_offer"
PREVIEW_SKIP_REASONS = ("bad_time", "incomplete_data", "recently_contacted", "duplicate", "other")
_PREVIEW_ACTIONS = ("preview.offered", "preview.started", "preview.skipped")


def offer_preview(
    session: Session, agent_id: int, campaign_id: int, lead_id: int, *, now: datetime | None = None
) -> Lead:
    """Show the agent a lead before it is dialed (the agent is reserved for it)."""
    agent = agents.agent_user(session, agent_id)
    lead = session.get(Lead, lead_id)
    if lead is None or lead.campaign_id != campaign_id:
        raise NotFound(N_("no such lead in this campaign"), details={"lead_id": lead_id})
    agents.change_state(session, agent_id, AgentState.RESERVED, reason="preview", now=now)
    audit.record(
        session,
        "preview.offered",
        actor=agent,
        target_type="lead",
        target_id=lead.id,
        details={"campaign_id": campaign_id},
    )
    emit_after_commit(
        session, PREVIEW_OFFER, preview_data(session, lead, agent.locale), room=agent_room(agent_id)
    )
    return lead


def preview_data(session: Session, lead: Lead, locale: str) -> dict[str, Any]:
    campaign = session.get(Campaign, lead.campaign_id)
    return {
        "campaign": campaign.name if campaign else "",
        "skip_reasons": list(PREVIEW_SKIP_REASONS),
        **lead_card(session, lead, locale),
    }


def pending_preview(session: Session, agent_id: int) -> Lead | None:
    """The lead on the agent's preview screen, if one is waiting for a decision."""
    last = session.scalar(
        select(AuditEntry)
        .where(AuditEntry.actor_id == agent_id, AuditEntry.action.in_(_PREVIEW_ACTIONS))
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    if last is None or last.action != "preview.offered" or last.target_id is None:
        return None
    return session.get(Lead, int(last.target_id))


def _pending_for(session: Session, agent_id: int, lead_id: Any) -> Lead:
    status = agents.status_of(session, agent_id, lock=True)
    lead = pending_preview(session, agent_id)
    if status.state is not AgentState.RESERVED or lead is None:
        raise Conflict(N_("there is no lead waiting for you"))
    if str(lead.id) != str(lead_id):
        raise Conflict(N_("that lead is not the one on your screen"), details={"lead_id": lead.id})
    return lead


def start_preview(
    session: Session, agent_id: int, lead_id: Any, *, bus: EventBus | None = None
) -> Lead:
    """The agent asks for the previewed lead to be dialed; the dialer places the call."""
    lead = _pending_for(session, agent_id, lead_id)
    agent = agents.agent_user(session, agent_id)
    audit.record(session, "preview.started", actor=agent, target_type="lead", target_id=lead.id)
    publish_after_commit(
        session,
        bus,
        PreviewCallRequested(agent_id=agent_id, campaign_id=lead.campaign_id, lead_id=lead.id),
    )
    return lead


def skip_preview(
    session: Session,
    agent_id: int,
    lead_id: Any,
    reason: Any,
    text: Any = "",
    *,
    bus: EventBus | None = None,
    now: datetime | None = None,
) -> Lead:
    lead = _pending_for(session, agent_id, lead_id)
    code = str(reason or "")
    if code not in PREVIEW_SKIP_REASONS:
        raise InvalidInput(N_("choose why you skip this lead"), details={"field": "reason"})
    note = str(text or "").strip()[:500]
    if code == "other" and not note:
        raise InvalidInput(N_("say in a few words why"), details={"field": "text"})
    agent = agents.agent_user(session, agent_id)
    audit.record(
        session,
        "preview.skipped",
        actor=agent,
        target_type="lead",
        target_id=lead.id,
        details={"reason": code, "text": note},
    )
    agents.change_state(session, agent_id, AgentState.READY, reason="preview_skipped", now=now)
    publish_after_commit(
        session,
        bus,
        PreviewSkipped(
            agent_id=agent_id, campaign_id=lead.campaign_id, lead_id=lead.id, reason=code
        ),
    )
    return lead
