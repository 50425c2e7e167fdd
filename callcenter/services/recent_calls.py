"""The live floor's recent calls: the last ended calls of each campaign, with
what the panel shows and whether the call has a recording to play. One
function, so whoever pushes the floor (today the per-second snapshot, only
for campaigns where a call ended or a recording was stored) can call it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import Call, CallRecording, Customer, RecordingStatus, User

RECENT_CALLS = 20


def recent_calls(
    session: Session, campaign_ids: Iterable[int], *, limit: int = RECENT_CALLS
) -> dict[int, list[dict[str, Any]]]:
    """Each campaign's last `limit` ended calls, newest first (ix_calls_campaign_ended)."""
    found: dict[int, list[dict[str, Any]]] = {}
    for campaign_id in sorted(set(campaign_ids)):
        query = (
            select(
                Call,
                User.full_name,
                User.team_id,
                Customer.title,
                Customer.first_name,
                Customer.last_name,
                CallRecording.status,
            )
            .join(Customer, Customer.id == Call.customer_id)
            .outerjoin(User, User.id == Call.agent_id)
            .outerjoin(CallRecording, CallRecording.call_id == Call.id)
            .where(Call.campaign_id == campaign_id, Call.ended_at.is_not(None))
            .order_by(Call.ended_at.desc(), Call.id.desc())
            .limit(limit)
        )
        found[campaign_id] = [
            _row(call, agent, team_id, (title, first, last), status)
            for call, agent, team_id, title, first, last, status in session.execute(query)
        ]
    return found


def _row(
    call: Call,
    agent: str | None,
    team_id: int | None,
    name: tuple[str | None, ...],
    status: RecordingStatus | None,
) -> dict[str, Any]:
    talk = None
    if call.connected_at is not None and call.ended_at is not None:
        talk = round((call.ended_at - call.connected_at).total_seconds())
    return {
        "call_id": call.id,
        "campaign_id": call.campaign_id,
        "agent_id": call.agent_id,
        "agent": agent,
        "agent_team_id": team_id,
        "customer": " ".join(part for part in name if part),
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "talk_seconds": talk,
        "outcome": str(call.outcome) if call.outcome is not None else None,
        "recorded": status is RecordingStatus.STORED,
    }
