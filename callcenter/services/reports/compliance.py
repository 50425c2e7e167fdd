"""Compliance: abandon rate per campaign per day and over the campaign's
rolling window (30 days by default) against its cap; calls placed outside
the calling windows (must be zero); do-not-call hits prevented, and calls
to numbers that were on a DNC list when dialed (must be zero)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from callcenter.calling_windows import CallingWindows, is_callable
from callcenter.metrics import ABANDONED, LIVE_ANSWER, count_if, ratio
from callcenter.models import Call, Campaign, Customer, DncEntry, DncHit, Lead, LeadStateChange
from callcenter.services.reports.filters import (
    ReportFilters,
    call_conditions,
    campaign_conditions,
)
from callcenter.services.reports.scope import Names
from callcenter.states import LeadState

SAMPLE_LIMIT = 100


@dataclass(frozen=True)
class AbandonDay:
    campaign_id: int
    campaign: str
    day: date
    abandoned: int
    live_answers: int
    rolling_abandoned: int
    rolling_live_answers: int
    window_days: int
    cap_percent: float

    @property
    def rate(self) -> float | None:
        return ratio(self.abandoned, self.live_answers)

    @property
    def rolling_rate(self) -> float | None:
        return ratio(self.rolling_abandoned, self.rolling_live_answers)

    @property
    def over_cap(self) -> bool:
        cap = self.cap_percent / 100
        return any(rate is not None and rate > cap for rate in (self.rate, self.rolling_rate))


@dataclass(frozen=True)
class CampaignCompliance:
    campaign_id: int
    campaign: str
    calls: int = 0
    outside_window: int = 0
    dnc_prevented: int = 0
    dnc_violations: int = 0


@dataclass
class ComplianceReport:
    filters: ReportFilters
    days: list[AbandonDay] = field(default_factory=list)
    campaigns: list[CampaignCompliance] = field(default_factory=list)
    outside_window_calls: list[str] = field(default_factory=list)
    dnc_violation_calls: list[str] = field(default_factory=list)

    @property
    def outside_window(self) -> int:
        return sum(row.outside_window for row in self.campaigns)

    @property
    def dnc_prevented(self) -> int:
        return sum(row.dnc_prevented for row in self.campaigns)

    @property
    def dnc_violations(self) -> int:
        return sum(row.dnc_violations for row in self.campaigns)


def compliance_report(session: Session, filters: ReportFilters) -> ComplianceReport:
    # Abandons and windows are campaign matters: agent and team filters do not apply.
    filters = replace(filters, agent_ids=(), team_ids=())
    names = Names.load(session)
    report = ComplianceReport(filters)
    report.days = _abandon_days(session, filters, names)
    calls, outside, report.outside_window_calls = _outside_windows(session, filters)
    violations, report.dnc_violation_calls = _dnc_violations(session, filters)
    prevented = _dnc_prevented(session, filters)
    campaign_ids = sorted(set(calls) | set(prevented) | {d.campaign_id for d in report.days})
    report.campaigns = [
        CampaignCompliance(
            campaign_id=cid,
            campaign=names.campaigns.get(cid, str(cid)),
            calls=calls.get(cid, 0),
            outside_window=outside.get(cid, 0),
            dnc_prevented=prevented.get(cid, 0),
            dnc_violations=violations.get(cid, 0),
        )
        for cid in campaign_ids
    ]
    return report


def _abandon_days(session: Session, filters: ReportFilters, names: Names) -> list[AbandonDay]:
    campaigns = {
        row.id: row
        for row in session.execute(
            select(Campaign.id, Campaign.abandon_window_days, Campaign.abandon_cap_percent)
        )
    }
    longest = max((row.abandon_window_days for row in campaigns.values()), default=30)
    # Read back far enough that the first day's rolling window is complete.
    earlier = (
        replace(filters, date_from=filters.date_from - timedelta(days=longest - 1))
        if filters.date_from
        else filters
    )
    clock = earlier.clock(session)
    day = clock.date(Call.dialed_at).label("day")
    query = (
        select(Call.campaign_id, day, count_if(ABANDONED), count_if(LIVE_ANSWER))
        .where(*call_conditions(earlier))
        .group_by(Call.campaign_id, day)
    )
    daily: dict[int, dict[date, tuple[int, int]]] = defaultdict(dict)
    for campaign_id, when, abandoned, live in session.execute(query):
        daily[campaign_id][_as_date(when)] = (int(abandoned), int(live))
    result = []
    for campaign_id, by_day in daily.items():
        settings = campaigns.get(campaign_id)
        window = settings.abandon_window_days if settings else 30
        cap = float(settings.abandon_cap_percent if settings else Decimal("3"))
        for when in sorted(by_day):
            if filters.date_from and when < filters.date_from:
                continue
            abandoned, live = by_day[when]
            rolling = [by_day.get(when - timedelta(days=back), (0, 0)) for back in range(window)]
            result.append(
                AbandonDay(
                    campaign_id=campaign_id,
                    campaign=names.campaigns.get(campaign_id, str(campaign_id)),
                    day=when,
                    abandoned=abandoned,
                    live_answers=live,
                    rolling_abandoned=sum(a for a, _ in rolling),
                    rolling_live_answers=sum(lv for _, lv in rolling),
                    window_days=window,
                    cap_percent=cap,
                )
            )
    return sorted(result, key=lambda row: (row.campaign, row.day))


def campaign_windows(campaign_windows: dict[str, Any], holidays: list[str]) -> CallingWindows:
    """The campaign's windows with its `holidays` column added to the config's own."""
    windows = CallingWindows.from_dict(campaign_windows)
    extra = {date.fromisoformat(day) for day in holidays or []}
    return CallingWindows(windows.weekly, windows.holidays | extra) if extra else windows


def _outside_windows(
    session: Session, filters: ReportFilters
) -> tuple[dict[int, int], dict[int, int], list[str]]:
    """Every call judged by the campaign's windows in the customer's zone."""
    windows = {
        cid: campaign_windows(config or {}, holidays or [])
        for cid, config, holidays in session.execute(
            select(Campaign.id, Campaign.calling_windows, Campaign.holidays)
        )
    }
    query = (
        select(Call.id, Call.campaign_id, Call.dialed_at, Customer.timezone)
        .join(Customer, Customer.id == Call.customer_id)
        .where(*call_conditions(filters))
        .execution_options(yield_per=5000)
    )
    calls: dict[int, int] = defaultdict(int)
    outside: dict[int, int] = defaultdict(int)
    samples: list[str] = []
    for call_id, campaign_id, dialed_at, tz in session.execute(query):
        calls[campaign_id] += 1
        if not is_callable(dialed_at, tz or filters.tz, windows[campaign_id]):
            outside[campaign_id] += 1
            if len(samples) < SAMPLE_LIMIT:
                samples.append(call_id)
    return dict(calls), dict(outside), samples


def _dnc_violations(session: Session, filters: ReportFilters) -> tuple[dict[int, int], list[str]]:
    """Calls to a number that was on the global or the campaign's list when dialed."""
    listed = (
        select(DncEntry.id)
        .where(
            DncEntry.phone_e164 == Call.phone_e164,
            or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == Call.campaign_id),
            DncEntry.created_at <= Call.dialed_at,
        )
        .exists()
    )
    rows = session.execute(
        select(Call.id, Call.campaign_id).where(listed, *call_conditions(filters))
    ).all()
    counts: dict[int, int] = defaultdict(int)
    for _, campaign_id in rows:
        counts[campaign_id] += 1
    return dict(counts), [call_id for call_id, _ in rows[:SAMPLE_LIMIT]]


def _dnc_prevented(session: Session, filters: ReportFilters) -> dict[int, int]:
    """Calls not made because of a DNC list: numbers left out of lead files
    and dials refused at the last check (dnc_hits), and leads moved to `dnc`
    without a call (a number added to a list while its lead waited)."""
    changes = (
        select(Lead.campaign_id, func.count())
        .select_from(LeadStateChange)
        .join(Lead, Lead.id == LeadStateChange.lead_id)
        .where(
            LeadStateChange.to_state == LeadState.DNC,
            LeadStateChange.call_id.is_(None),
            *_between(LeadStateChange.at, filters),
            *campaign_conditions(filters, Lead.campaign_id),
        )
        .group_by(Lead.campaign_id)
    )
    hits = (
        select(DncHit.campaign_id, func.count())
        .where(*_between(DncHit.at, filters), *campaign_conditions(filters, DncHit.campaign_id))
        .group_by(DncHit.campaign_id)
    )
    counts: dict[int, int] = defaultdict(int)
    for query in (changes, hits):
        for campaign_id, count in session.execute(query):
            counts[campaign_id] += int(count)
    return dict(counts)


def _between(column: Any, filters: ReportFilters) -> list[Any]:
    conditions = []
    if filters.start is not None:
        conditions.append(column >= filters.start)
    if filters.end is not None:
        conditions.append(column < filters.end)
    return [and_(*conditions)] if conditions else []


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))
