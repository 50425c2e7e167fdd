"""What the supervisor's floor reads: the whole floor at connect, today's
abandons and a call's path through its script."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import metrics
from callcenter.errors import N_, NotFound
from callcenter.models import AgentStatus, Call, Customer, DialMode, PauseReason, StepOutcome, User
from callcenter.services import callback_desk
from callcenter.services import recordings as recording_service
from callcenter.services.floor.access import require_campaign, visible_agent_ids, visible_campaigns
from callcenter.services.floor.commands import MAX_ABANDON_CAP
from callcenter.services.floor.payloads import call_row, full_name, to_iso
from callcenter.services.floor.projection import LiveFloor
from callcenter.services.recent_calls import recent_calls
from callcenter.states import AgentState


def floor_state(
    session: Session, user: User, floor: LiveFloor, *, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the floor page shows at connect; deltas and snapshots follow."""
    now = now or floor.clock()
    campaign_ids = visible_campaigns(session, user)
    floor.refresh_meta()
    snapshots = floor.snapshot(now)
    today = floor.local_day(now)
    agent_totals = floor.counters.agent_totals(today)
    live_agents = floor.counters.agents()
    agent_ids = visible_agent_ids(session, user)
    users = session.execute(
        select(User.id, User.full_name, AgentStatus.phone_leg, AgentStatus.pause_after_call)
        .outerjoin(AgentStatus, AgentStatus.agent_id == User.id)
        .where(User.id.in_(agent_ids))
        .order_by(User.full_name)
    ).all()
    agents = []
    for agent_id, name, phone_leg, pause_after_call in users:
        live = live_agents.get(agent_id, {})
        totals = agent_totals.get(agent_id, {})
        agents.append(
            {
                "agent_id": agent_id,
                "name": name,
                "state": live.get("state", AgentState.LOGGED_OUT.value),
                "since": live.get("since"),
                "campaign_id": live.get("campaign_id"),
                "pause_reason": live.get("reason"),
                "call_id": live.get("call_id"),
                "phone_leg": str(phone_leg) if phone_leg is not None else "down",
                "pause_after_call": pause_after_call,
                "calls": int(totals.get("calls", 0)),
                "appointments": int(totals.get("appointments", 0)),
            }
        )
    visible = set(campaign_ids)
    calls = [call_row(c) for c in floor.counters.calls().values() if c["campaign_id"] in visible]
    reasons = session.scalars(select(PauseReason).order_by(PauseReason.position, PauseReason.code))
    return {
        "campaigns": [snapshots[cid] for cid in campaign_ids if cid in snapshots],
        "agents": agents,
        "calls": calls,
        "abandons": abandoned_today(session, campaign_ids, floor, now=now),
        "recent_calls": [
            row for rows in recent_calls(session, campaign_ids).values() for row in rows
        ],
        "hearing_team_ids": recording_service.hearing_team_ids(user),
        "overdue_callbacks": callback_desk.overdue(session, campaign_ids, now=now),
        "pause_reasons": [
            {
                "code": r.code,
                "label_fa": r.label_fa,
                "label_en": r.label_en,
                "limit_minutes": r.limit_minutes,
                "is_paid": r.is_paid,
                "is_active": r.is_active,
                "is_system": r.is_system,
            }
            for r in reasons
        ],
        "dial_modes": [mode.value for mode in DialMode],
        "max_abandon_cap": MAX_ABANDON_CAP,
        "at": now.isoformat(),
    }


def abandoned_today(
    session: Session, campaign_ids: list[int], floor: LiveFloor, *, now: datetime
) -> list[dict[str, Any]]:
    start, _ = floor.day_bounds(floor.local_day(now))
    query = (
        select(Call, Customer.title, Customer.first_name, Customer.last_name)
        .join(Customer, Customer.id == Call.customer_id)
        .where(Call.campaign_id.in_(campaign_ids), Call.dialed_at >= start, metrics.ABANDONED)
        .order_by(Call.ended_at.desc())
        .limit(200)
    )
    return [
        {
            "call_id": call.id,
            "campaign_id": call.campaign_id,
            "customer": full_name(title, first, last),
            "at": to_iso(call.ended_at),
            "wait": (call.ended_at - call.answered_at).total_seconds()
            if call.ended_at and call.answered_at
            else None,
        }
        for call, title, first, last in session.execute(query)
    ]


def call_path(session: Session, user: User, call_id: Any) -> dict[str, Any]:
    """The script path of a call so far (step_outcomes), for the drill-down."""
    call = session.get(Call, str(call_id or ""))
    if call is None:
        raise NotFound(N_("no such call"), details={"call_id": call_id})
    require_campaign(session, user, call.campaign_id)
    rows = session.scalars(
        select(StepOutcome).where(StepOutcome.call_id == call.id).order_by(StepOutcome.seq)
    )
    return {
        "call_id": call.id,
        "current_step": call.current_step,
        "max_step_reached": call.max_step_reached,
        "steps": [
            {
                "seq": row.seq,
                "step": row.step_number,
                "action": str(row.action),
                "via": row.via,
                "reason_code": row.reason_code,
                "reason_text": row.reason_text,
                "at": row.at.isoformat(),
            }
            for row in rows
        ],
    }
