"""What the floor shows of each campaign besides its counters: its settings,
the pacer's last dial level and the dialable leads left."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.models import Campaign, CampaignStatus, DialLevelChange
from callcenter.services import campaigns, hopper_feed

DIALABLE_STATUS = "dialable:"


@dataclass
class CampaignMeta:
    id: int
    name: str
    status: str
    dial_mode: str
    abandon_cap: float
    window_days: int
    dial_level: float | None = None
    pacer_reason: str | None = None
    dialable_leads: int | None = None
    calling_hours: dict[str, Any] | None = None


def load_campaign_meta(session: Session) -> dict[int, CampaignMeta]:
    rows = session.scalars(select(Campaign).where(Campaign.status != CampaignStatus.ARCHIVED))
    now = utcnow()
    meta = {
        c.id: CampaignMeta(
            id=c.id,
            name=c.name,
            status=str(c.status),
            dial_mode=str(c.dial_mode),
            abandon_cap=float(c.abandon_cap_percent),
            window_days=c.abandon_window_days,
            calling_hours=campaigns.calling_hours(c, now),
        )
        for c in rows
    }
    latest = (
        select(DialLevelChange.campaign_id, func.max(DialLevelChange.id).label("id"))
        .group_by(DialLevelChange.campaign_id)
        .subquery()
    )
    changes = session.execute(
        select(
            DialLevelChange.campaign_id, DialLevelChange.dial_level, DialLevelChange.reason
        ).join(latest, latest.c.id == DialLevelChange.id)
    )
    for cid, level, reason in changes:
        if cid in meta:
            meta[cid].dial_level = float(level)
            meta[cid].pacer_reason = reason
    return meta


def dialable_counts(session: Session, campaign_ids: Iterable[int], now: datetime) -> dict[int, int]:
    """Dialable leads left per campaign (the hopper feed's own rule). The
    hopper's depth lives in the dialer, which `callcenter` may not import:
    the floor shows it as unknown until the dialer reports it."""
    return {cid: hopper_feed.count_dialable(session, cid, now=now) for cid in campaign_ids}


def shared_dialable(
    statuses: Mapping[str, Any], *, now: datetime, max_age_s: float
) -> dict[int, int]:
    """The dialable counts a web process shared (`dialable_status`) no more
    than `max_age_s` ago, by campaign."""
    fresh = {}
    for key, value in statuses.items():
        if key.startswith(DIALABLE_STATUS) and now.timestamp() - value["at"] <= max_age_s:
            fresh[int(key.removeprefix(DIALABLE_STATUS))] = int(value["count"])
    return fresh


def dialable_status(campaign_id: int, count: int, *, now: datetime) -> tuple[str, dict[str, Any]]:
    """A campaign's dialable count as a counters status, for the other web
    processes: counting reads the campaign's leads, so one process counts."""
    return f"{DIALABLE_STATUS}{campaign_id}", {"count": count, "at": now.timestamp()}
