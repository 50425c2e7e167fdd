"""The pacer's audit trail and the abandon counts it paces against.

The dialer calls `record_dial_level` whenever its pacer says the dial level
changed (with the pacer's own words for why), and reads `abandon_tallies`
each tick: abandons over live answers, today (in the campaign's zone) and
over the campaign's rolling window, counted with the metric definitions
every report uses (`callcenter.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter import metrics
from callcenter.errors import N_, NotFound
from callcenter.models import Call, Campaign, DialLevelChange

MAX_REASON_LENGTH = 2000


@dataclass(frozen=True)
class AbandonCount:
    live_answers: int
    abandoned: int


def record_dial_level(
    session: Session, *, campaign_id: int, dial_level: float, reason: str, at: datetime
) -> DialLevelChange:
    change = DialLevelChange(
        campaign_id=campaign_id,
        at=at,
        dial_level=Decimal(f"{dial_level:.3f}"),
        reason=reason[:MAX_REASON_LENGTH],
    )
    session.add(change)
    session.flush()
    return change


def dial_level_history(
    session: Session, campaign_id: int, *, limit: int = 100
) -> list[DialLevelChange]:
    query = (
        select(DialLevelChange)
        .where(DialLevelChange.campaign_id == campaign_id)
        .order_by(DialLevelChange.at.desc(), DialLevelChange.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def abandon_tallies(
    session: Session, campaign_id: int, *, now: datetime
) -> tuple[AbandonCount, AbandonCount]:
    """(today, rolling window) for one campaign."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(N_("no such campaign"), details={"campaign_id": campaign_id})
    local = now.astimezone(ZoneInfo(campaign.timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    window_start = now - timedelta(days=campaign.abandon_window_days)
    return (
        _count(session, campaign_id, midnight, now),
        _count(session, campaign_id, window_start, now),
    )


def _count(session: Session, campaign_id: int, start: datetime, end: datetime) -> AbandonCount:
    row = session.execute(
        select(
            metrics.count_if(metrics.LIVE_ANSWER),
            metrics.count_if(metrics.ABANDONED),
        ).where(Call.campaign_id == campaign_id, Call.dialed_at >= start, Call.dialed_at <= end)
    ).one()
    return AbandonCount(live_answers=int(row[0] or 0), abandoned=int(row[1] or 0))
