"""The screen pop: everything the agent's screen needs for a call in one
payload, pushed when the call connects and rebuilt after a reload."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.models import AgentStatus, Call, Campaign, Customer, Disposition, Lead
from callcenter.scheduling import format_phone
from callcenter.services import agents, appointments, call_monitoring, scripts_catalog
from callcenter.services.booking_panel import booking_data
from callcenter.services.call_notes import call_note
from callcenter.services.call_script import (
    agent_locale,
    rejection_data,
    rejection_of,
    rendered_script,
    script_context,
    script_version_of,
)
from callcenter.services.customer_history import lead_card
from callcenter.services.previews import pending_preview, preview_data
from callcenter.states import AgentState, CallState

SCREEN_POP = "screen_pop"


def screen_pop(
    session: Session, call: Call, *, now: datetime | None = None, first_connect: bool = False
) -> dict[str, Any]:
    """Everything the agent's screen needs for the call, in one payload.
    `first_connect`: the call reaches its first agent in this transaction, so
    nobody has booked, rejected, noted or coded anything on it yet."""
    now = now or utcnow()
    assert call.agent_id is not None
    locale = agent_locale(session, call.agent_id)
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    script = scripts_catalog.script_of(script_version_of(session, call, locale))
    appointment = None if first_connect else appointments.booked_on_call(session, call.id)
    team = appointments.salespeople(session, call.campaign_id)
    slots = (
        appointments.propose(session, call, now=now, team=team)
        if call.state is not CallState.ENDED
        else ()
    )
    _load_lead_and_customer(session, call)
    context = script_context(session, call, script, now=now, slots=slots, appointment=appointment)
    rejection = None if first_connect else rejection_of(session, call.id)
    note = None if first_connect else call_note(session, call.id, call.agent_id)
    disposition = (
        None
        if first_connect
        else session.scalar(select(Disposition).where(Disposition.call_id == call.id))
    )
    tz = ZoneInfo(campaign.timezone)
    return {
        "call": {
            "id": call.id,
            "campaign_id": campaign.id,
            "campaign": campaign.name,
            "phone": call.phone_e164,
            "phone_display": format_phone(call.phone_e164, locale),
            "is_preview": call.is_preview,
            "direction": str(call.direction),
            "state": str(call.state),
            "outcome": str(call.outcome) if call.outcome else None,
            "connected_at": call.connected_at.isoformat() if call.connected_at else None,
            "ended_at": call.ended_at.isoformat() if call.ended_at else None,
            "current_step": call.current_step or 1,
            "max_step": call.max_step_reached or 1,
            "wrap_up_limit_seconds": campaign.wrap_up_limit_seconds,
            "auto_ready": campaign.auto_ready_after_wrap_up,
            "recording": campaign.recording_mode.value,
        },
        **lead_card(session, call.lead, locale, exclude_call_id=call.id, viewer_id=call.agent_id),
        "script": rendered_script(script, context),
        "rejection": rejection_data(rejection),
        "booking": booking_data(
            session, call, locale, tz, slots=slots, appointment=appointment, team=team
        ),
        "notes": note.text if note else "",
        "disposition": str(disposition.code) if disposition else None,
    }


def _load_lead_and_customer(session: Session, call: Call) -> None:
    """The call's lead and customer in one read: `call.lead` and
    `call.customer` then find them in the session."""
    unloaded = inspect(call).unloaded
    if "lead" in unloaded and "customer" in unloaded:
        session.execute(
            select(Lead, Customer)
            .join(Customer, Customer.id == Lead.customer_id)
            .where(Lead.id == call.lead_id)
        ).all()


def current_view(session: Session, agent_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """What the screen should show now: after a reload or a reconnect the
    agent is back on the current call, at the current step, with the notes."""
    agent = agents.agent_user(session, agent_id)
    status = agents.status_of(session, agent_id)
    view: dict[str, Any] = {
        "agent": agents.state_payload(session, status),
        "call": None,
        "preview": None,
        "monitoring": None,
    }
    call = _screen_call(session, status)
    if call is not None:
        view["call"] = screen_pop(session, call, now=now)
        view["monitoring"] = call_monitoring.agent_view(session, agent_id, call.id)
    elif status.state is AgentState.RESERVED:
        lead = pending_preview(session, agent_id)
        if lead is not None:
            view["preview"] = preview_data(session, lead, agent.locale)
    return view


def _screen_call(session: Session, status: AgentStatus) -> Call | None:
    if status.current_call_id is not None:
        call = session.get(Call, status.current_call_id)
        if call is not None and call.agent_id == status.agent_id and call.wrap_up_ended_at is None:
            return call if call.connected_at is not None else None
    return None
