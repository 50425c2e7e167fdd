"""What a supervisor does from the floor: run or pause a campaign, set its
abandon cap and dial mode, pause, log out or message an agent, and give an
overdue callback to another agent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.errors import N_, InvalidInput
from callcenter.models import Campaign, CampaignStatus, DialMode, User
from callcenter.realtime import emit_after_commit
from callcenter.realtime.rooms import agent_room, campaign_supervisors_room
from callcenter.services import agents as agent_service
from callcenter.services import audit, callback_desk, wrap_ups
from callcenter.services import campaigns as campaign_service
from callcenter.services.floor.access import require_agent, require_campaign
from callcenter.services.floor.projection import CALLBACKS_EVENT, LiveFloor
from callcenter.states import AgentState, Role

CAMPAIGN_EVENT = "floor_campaign"
MESSAGE_EVENT = "supervisor_message"
PAUSE_AFTER_CALL_EVENT = "pause_after_call"
MAX_ABANDON_CAP = 3.0
MAX_MESSAGE_LENGTH = 500


def set_campaign_running(
    session: Session, user: User, floor: LiveFloor, campaign_id: Any, *, running: bool
) -> dict[str, Any]:
    campaign = require_campaign(session, user, campaign_id)
    status = CampaignStatus.ACTIVE if running else CampaignStatus.PAUSED
    campaign_service.set_status(session, campaign, status, actor=user)  # audited there
    return _campaign_changed(session, floor, campaign)


def set_abandon_cap(
    session: Session, user: User, floor: LiveFloor, campaign_id: Any, percent: Any
) -> dict[str, Any]:
    campaign = require_campaign(session, user, campaign_id)
    try:
        value = float(percent)
    except (TypeError, ValueError):
        raise InvalidInput(
            N_("the cap is a number of percent"), details={"field": "percent"}
        ) from None
    if not 0 <= value <= MAX_ABANDON_CAP:
        raise InvalidInput(
            N_("the abandon cap must be between 0 and %(cap)s%%"),
            details={"field": "percent"},
            cap=MAX_ABANDON_CAP,
        )
    campaign_service.update_campaign(
        session, campaign, actor=user, abandon_cap_percent=f"{value:.2f}"
    )
    return _campaign_changed(session, floor, campaign)


def set_dial_mode(
    session: Session, user: User, floor: LiveFloor, campaign_id: Any, mode: Any
) -> dict[str, Any]:
    campaign = require_campaign(session, user, campaign_id)
    if str(mode) not in {m.value for m in DialMode}:
        raise InvalidInput(N_("unknown dial mode"), details={"field": "mode"})
    campaign_service.update_campaign(session, campaign, actor=user, dial_mode=str(mode))
    return _campaign_changed(session, floor, campaign)


def _campaign_changed(session: Session, floor: LiveFloor, campaign: Campaign) -> dict[str, Any]:
    data = {
        "campaign_id": campaign.id,
        "status": str(campaign.status),
        "dial_mode": str(campaign.dial_mode),
        "abandon_cap": float(campaign.abandon_cap_percent),
    }
    floor.update_meta(campaign.id, data)
    emit_after_commit(session, CAMPAIGN_EVENT, data, room=campaign_supervisors_room(campaign.id))
    return data


def force_pause(session: Session, user: User, agent_id: Any, reason: Any) -> dict[str, Any]:
    """Pause an agent now; one on a call or in a wrap-up that owes a
    disposition is paused when the wrap-up ends (`after_call`), and is told so."""
    agent = require_agent(session, user, agent_id)
    status = agent_service.pause(session, agent.id, reason, forced_by=user)
    after_call = status.state is not AgentState.PAUSED
    audit.record(
        session,
        "agent.forced_pause",
        actor=user,
        target_type="user",
        target_id=agent.id,
        details={
            "reason": status.pause_after_call if after_call else status.pause_reason,
            "after_call": after_call,
        },
    )
    if after_call:
        payload = {
            "from": user.full_name,
            "pause_after_call": status.pause_after_call,
            "at": utcnow().isoformat(),
        }
        emit_after_commit(session, PAUSE_AFTER_CALL_EVENT, payload, room=agent_room(agent.id))
    return {
        "agent_id": agent.id,
        "agent_name": agent.full_name,
        "state": str(status.state),
        "after_call": after_call,
    }


def reassign_callback(
    session: Session, user: User, callback_id: Any, agent_id: Any, *, now: datetime | None = None
) -> dict[str, Any]:
    """Give an overdue callback of one's campaign to one of one's agents (an
    empty agent: anyone on the campaign). The campaign's supervisors see the
    new list once it is committed."""
    now = now or utcnow()
    try:
        wanted = int(callback_id)
    except (TypeError, ValueError):
        raise InvalidInput(N_("choose a callback"), details={"field": "callback_id"}) from None
    callback = callback_desk.get_callback(session, wanted)
    require_campaign(session, user, callback.campaign_id)
    agent = require_agent(session, user, agent_id) if agent_id not in (None, "") else None
    if agent is not None and agent.role is not Role.AGENT:
        raise InvalidInput(N_("choose an agent"), details={"field": "agent_id"})
    callback_desk.reassign(session, callback, agent, actor=user, now=now)
    rows = callback_desk.overdue(session, [callback.campaign_id], now=now)
    emit_after_commit(
        session,
        CALLBACKS_EVENT,
        {"campaign_id": callback.campaign_id, "callbacks": rows},
        room=campaign_supervisors_room(callback.campaign_id),
    )
    return {
        "callback_id": callback.id,
        "agent_id": agent.id if agent is not None else None,
        "agent_name": agent.full_name if agent is not None else None,
    }


def force_log_out(session: Session, user: User, agent_id: Any) -> dict[str, Any]:
    agent = require_agent(session, user, agent_id)
    status = wrap_ups.end_agent_session(session, agent.id)
    audit.record(
        session, "agent.forced_log_out", actor=user, target_type="user", target_id=agent.id
    )
    return {"agent_id": agent.id, "state": str(status.state)}


def message_agent(session: Session, user: User, agent_id: Any, text: Any) -> dict[str, Any]:
    agent = require_agent(session, user, agent_id)
    body = str(text or "").strip()
    if not body:
        raise InvalidInput(N_("write a message"), details={"field": "text"})
    if len(body) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(
            N_("at most %(count)s characters"), details={"field": "text"}, count=MAX_MESSAGE_LENGTH
        )
    payload = {"from": user.full_name, "text": body, "at": utcnow().isoformat()}
    emit_after_commit(session, MESSAGE_EVENT, payload, room=agent_room(agent.id))
    audit.record(
        session,
        "agent.messaged",
        actor=user,
        target_type="user",
        target_id=agent.id,
        details={"text": body},
    )
    return {"agent_id": agent.id, "sent": True}
