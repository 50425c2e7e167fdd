"""Several dialer processes, one owner per campaign, and takeover.

A dialer signs in (`sign_in`) and, every tick, heartbeats, renews the
leases of the campaigns it dials and takes free ones up to its fair share
(`hold_campaigns`). A lease not renewed for `lease` expires; the next dialer
to take the campaign over then closes what the lost dialer left open
(`recover_lost_work`): its calls end with outcome `failed` and a reason that
says why, their leads are settled by the campaign's retry rules, agents held
for them are let go, and leads it claimed but never dialed go back to be
dialed. Only the campaign's owner does this, so two dialers never race on
the same rows, and only for a dialer whose heartbeat has stopped, so a late
`call.ended` of a dialer that stopped cleanly is applied first.

No lead is dialed twice: the database claim (`lead_lifecycle.claim_attempt`)
is the only way to a dial, and a lead given back is claimed anew."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.models import Call, Campaign, CampaignStatus, Lead
from callcenter.models.fleet import CampaignLease, DialerProcess
from callcenter.services import call_recovery
from callcenter.states import CallState, LeadState

log = logging.getLogger(__name__)

LOST_REASON = "dialer lost (no heartbeat)"


@dataclass(frozen=True)
class DialerIdentity:
    id: str
    host: str
    pid: int
    trunk: str = "default"


@dataclass(frozen=True)
class HeldCampaigns:
    campaigns: list[Campaign]
    taken_over: list[int]
    """Campaigns this dialer took from a lease that had expired."""


@dataclass(frozen=True)
class LostWork:
    calls_closed: list[str]
    leads_released: int
    agents_released: list[int]

    def __bool__(self) -> bool:
        return bool(self.calls_closed or self.leads_released or self.agents_released)


def sign_in(session: Session, dialer: DialerIdentity, *, now: datetime) -> None:
    session.merge(
        DialerProcess(
            id=dialer.id,
            host=dialer.host[:255],
            pid=dialer.pid,
            trunk=dialer.trunk[:120],
            started_at=now,
            heartbeat_at=now,
            stopped_at=None,
        )
    )


def sign_off(session: Session, dialer_id: str, *, now: datetime) -> None:
    """A clean stop: its campaigns are free at once for the others. Its calls
    are all ended by then; their events may still be on their way, which is
    why the others wait for its heartbeat to go stale before closing any."""
    session.execute(
        update(DialerProcess)
        .where(DialerProcess.id == dialer_id)
        .values(stopped_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(CampaignLease).where(CampaignLease.dialer_id == dialer_id))


def record_trunk_status(
    session: Session, dialer_id: str, status: dict[str, Any], *, now: datetime
) -> None:
    session.execute(
        update(DialerProcess)
        .where(DialerProcess.id == dialer_id)
        .values(trunk_status=status | {"reported_at": now.isoformat()})
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class DialerTrunkStatus:
    dialer: DialerProcess
    status: dict[str, Any]
    live: bool
    """Heartbeat within the lease: what it says is current."""


def trunk_statuses(
    session: Session, *, now: datetime, lease: timedelta, include_stopped: bool = False
) -> list[DialerTrunkStatus]:
    """Each dialer's last word on its trunk, live dialers first."""
    query = select(DialerProcess).order_by(DialerProcess.trunk, DialerProcess.started_at)
    if not include_stopped:
        query = query.where(DialerProcess.stopped_at.is_(None))
    found = [
        DialerTrunkStatus(
            dialer=dialer,
            status=dict(dialer.trunk_status or {}),
            live=dialer.stopped_at is None and dialer.heartbeat_at >= now - lease,
        )
        for dialer in session.scalars(query)
    ]
    return sorted(found, key=lambda item: not item.live)


_HEARTBEAT = (
    update(DialerProcess)
    .where(DialerProcess.id == bindparam("dialer_id"))
    .values(heartbeat_at=bindparam("now"), stopped_at=None)
    .returning(DialerProcess.trunk)
    .execution_options(synchronize_session=False)
)
_ACTIVE_ON_TRUNK = (
    select(Campaign)
    .where(Campaign.status == CampaignStatus.ACTIVE, Campaign.trunk == bindparam("trunk"))
    .order_by(Campaign.id)
)
_LEASES = select(CampaignLease).with_for_update()
_LIVE_DIALERS = select(func.count(DialerProcess.id)).where(
    DialerProcess.trunk == bindparam("trunk"),
    DialerProcess.heartbeat_at > bindparam("live_after"),
    DialerProcess.stopped_at.is_(None),
)
"""Built once: hold_campaigns runs every tick, and building these cost more
than running them."""


def hold_campaigns(
    session: Session, dialer_id: str, *, now: datetime, lease: timedelta
) -> HeldCampaigns:
    """Heartbeat, renew this dialer's leases and take free or expired ones
    up to a fair share among the live dialers on its trunk; the active
    campaigns on its trunk it may dial now."""
    trunk = session.scalar(_HEARTBEAT, {"dialer_id": dialer_id, "now": now})
    active = list(session.scalars(_ACTIVE_ON_TRUNK, {"trunk": trunk}))
    leases = {row.campaign_id: row for row in session.scalars(_LEASES)}
    mine: list[Campaign] = []
    free: list[Campaign] = []
    for campaign in active:
        held = leases.get(campaign.id)
        if held is not None and held.dialer_id == dialer_id:
            held.expires_at = now + lease
            mine.append(campaign)
        elif held is None or held.expires_at <= now:
            free.append(campaign)
    taken_over: list[int] = []
    if free:  # the live dialers are counted only when there is a campaign to share
        live = _live_dialers(session, trunk=trunk or "", now=now, lease=lease)
        share = math.ceil(len(active) / max(1, live))
        for campaign in free[: max(0, share - len(mine))]:
            previous = leases.get(campaign.id)
            if _take(session, campaign.id, dialer_id, previous, now=now, lease=lease):
                mine.append(campaign)
                if previous is not None:
                    taken_over.append(campaign.id)
                    log.warning(
                        "took campaign %s over from dialer %s (lease expired)",
                        campaign.id,
                        previous.dialer_id,
                        extra={"campaign_id": campaign.id},
                    )
    session.flush()
    mine.sort(key=lambda campaign: campaign.id)
    return HeldCampaigns(campaigns=mine, taken_over=taken_over)


def _live_dialers(session: Session, *, trunk: str, now: datetime, lease: timedelta) -> int:
    return session.scalar(_LIVE_DIALERS, {"trunk": trunk, "live_after": now - lease}) or 0


def _take(
    session: Session,
    campaign_id: int,
    dialer_id: str,
    previous: CampaignLease | None,
    *,
    now: datetime,
    lease: timedelta,
) -> bool:
    if previous is None:
        try:
            with session.begin_nested():
                session.add(
                    CampaignLease(
                        campaign_id=campaign_id,
                        dialer_id=dialer_id,
                        acquired_at=now,
                        expires_at=now + lease,
                    )
                )
        except IntegrityError:
            return False  # another dialer took it in the same instant
        return True
    taken = session.execute(
        update(CampaignLease)
        .where(
            CampaignLease.campaign_id == campaign_id,
            CampaignLease.dialer_id == previous.dialer_id,
            CampaignLease.expires_at <= now,
        )
        .values(dialer_id=dialer_id, acquired_at=now, expires_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.expire(previous)
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def recover_lost_work(
    session: Session,
    dialer_id: str,
    campaign_ids: Sequence[int],
    *,
    now: datetime,
    lease: timedelta,
) -> LostWork:
    """In the campaigns this dialer holds: close the calls of dialers whose
    heartbeat stopped more than `lease` ago, and give back leads claimed
    before this dialer held the campaign that no call ever came of."""
    if not campaign_ids:
        return LostWork([], 0, [])
    stale_before = now - lease
    live = select(DialerProcess.id).where(
        DialerProcess.heartbeat_at > stale_before, DialerProcess.stopped_at.is_(None)
    )
    lost_calls = list(
        session.scalars(
            select(Call)
            .where(
                Call.campaign_id.in_(campaign_ids),
                Call.state != CallState.ENDED,
                Call.dialer_id.is_not(None),
                Call.dialer_id != dialer_id,
                Call.dialer_id.not_in(live),
            )
            .order_by(Call.dialed_at)
            .with_for_update()
        )
    )
    for call in lost_calls:
        call_recovery.close_call_left_open(session, call, reason=LOST_REASON, now=now)
    freed = call_recovery.release_agents_held_for(
        session, [call.id for call in lost_calls], reason=LOST_REASON, now=now
    )
    released = _release_undialed_leads(
        session, dialer_id, campaign_ids, now=now, stale_before=stale_before
    )
    if lost_calls or released:
        log.warning(
            "closed %d calls of lost dialers, gave back %d undialed leads",
            len(lost_calls),
            released,
        )
    return LostWork([call.id for call in lost_calls], released, freed)


def _release_undialed_leads(
    session: Session,
    dialer_id: str,
    campaign_ids: Sequence[int],
    *,
    now: datetime,
    stale_before: datetime,
) -> int:
    """Leads in DIALING with no calls row for their attempt, claimed before
    this dialer held their campaign (a dialer lost between the claim and
    `call.dialing`), once that is older than the lease: by then a
    `call.dialing` still on its way would have landed."""
    held_since = (
        select(CampaignLease.acquired_at)
        .where(CampaignLease.campaign_id == Lead.campaign_id, CampaignLease.dialer_id == dialer_id)
        .scalar_subquery()
    )
    dialed = exists().where(and_(Call.lead_id == Lead.id, Call.attempt == Lead.attempts))
    stuck = list(
        session.scalars(
            select(Lead).where(
                Lead.campaign_id.in_(campaign_ids),
                Lead.state == LeadState.DIALING,
                Lead.last_attempt_at < held_since,
                Lead.last_attempt_at < stale_before,
                ~dialed,
            )
        )
    )
    return call_recovery.give_back_undialed(session, stuck, why="dialer lost", now=now)
