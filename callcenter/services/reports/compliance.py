"""Compliance: abandon rate per campaign per day and over the campaign's
rolling window (30 days by default) against its cap; calls placed outside
the calling windows (must be zero); do-not-call hits prevented, and calls
to numbers that were on a DNC list when dialed (must be zero)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Time,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from callcenter.calling_windows import CallingWindows
from callcenter.metrics import ABANDONED, LIVE_ANSWER, OUTBOUND, LocalClock, count_if, ratio
from callcenter.models import Call, Campaign, Customer, DncEntry, DncHit, Lead, LeadStateChange
from callcenter.services.reports.filters import (
    ReportFilters,
    call_conditions,
    campaign_conditions,
    group_key,
)
from callcenter.services.reports.scope import Names
from callcenter.states import LeadState

SAMPLE_LIMIT = 100
# Longer ranges are grouped by a computed local date (SQLite takes at most
# 500 SELECTs in one UNION).
_DAYS_APART = 400


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
    daily: dict[int, dict[date, tuple[int, int]]] = defaultdict(dict)
    for campaign_id, when, abandoned, live in session.execute(_daily_abandons(session, earlier)):
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


def _daily_abandons(session: Session, filters: ReportFilters) -> Any:
    """(campaign, local day, abandons, live answers). A bounded range is
    read a day at a time, each day a campaign at a time: an index range of
    ix_calls_campaign_dialed_outcome per campaign and day, read in the order
    it is grouped in, with no local date to compute per call and no sort
    (SQLite groups by sorting: 444k calls for a week's 30-day windows)."""
    counts = (count_if(ABANDONED), count_if(LIVE_ANSWER))
    first, last = filters.date_from, filters.date_to
    if first is None or last is None or (last - first).days >= _DAYS_APART:
        campaign = group_key(session, Call.campaign_id)
        day = filters.clock(session).date(Call.dialed_at).label("day")
        return (
            select(campaign, day, *counts).where(*call_conditions(filters)).group_by(campaign, day)
        )
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    # Always true (a foreign key): it leads SQLite's planner, which has no
    # statistics, to the campaign-first index. PostgreSQL plans well without
    # it (with it, 150 ms in place of 115 for a week's 30-day windows).
    each_campaign = (
        [Call.campaign_id.in_(select(Campaign.id))]
        if session.get_bind().dialect.name == "sqlite"
        else []
    )
    return union_all(
        *(
            select(Call.campaign_id, literal(day, Date).label("day"), *counts)
            .where(*call_conditions(replace(filters, date_from=day, date_to=day)), *each_campaign)
            .group_by(Call.campaign_id)
            for day in days
        )
    )


def campaign_windows(campaign_windows: dict[str, Any], holidays: list[str]) -> CallingWindows:
    """The campaign's windows with its `holidays` column added to the config's own."""
    windows = CallingWindows.from_dict(campaign_windows)
    extra = {date.fromisoformat(day) for day in holidays or []}
    return CallingWindows(windows.weekly, windows.holidays | extra) if extra else windows


def _outside_windows(
    session: Session, filters: ReportFilters
) -> tuple[dict[int, int], dict[int, int], list[str]]:
    """Every call judged by the campaign's windows in the customer's zone, in
    SQL: the windows and holidays go in as a table of values, each call's
    local wall clock comes from the database (`calling_windows.is_callable`
    says the same in Python)."""
    windows = {
        cid: campaign_windows(config or {}, holidays or [])
        for cid, config, holidays in session.execute(
            select(Campaign.id, Campaign.calling_windows, Campaign.holidays)
        )
    }
    zone = func.coalesce(func.nullif(Customer.timezone, ""), filters.tz)
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        zones = sorted(
            {tz or filters.tz for tz in session.scalars(select(Customer.timezone).distinct())}
        )
        wall_clock = [_sqlite_local(Call.dialed_at, zone, zones, filters).label("local")]
    else:
        wall_clock = _wall_clock(func.timezone(zone, Call.dialed_at))
    local_calls = (
        select(Call.id, Call.campaign_id, Call.dialed_at, *wall_clock)
        .join(Customer, Customer.id == Call.customer_id)
        .where(OUTBOUND, *call_conditions(filters))  # a customer may ring us at any hour
    )
    # Each call's wall clock computed once, not again for every window the
    # join compares it with.
    calls: Any = local_calls.cte("judged").prefix_with("MATERIALIZED")
    if dialect == "sqlite":
        calls = select(
            calls.c.id, calls.c.campaign_id, calls.c.dialed_at, *_sqlite_wall_clock(calls.c.local)
        ).subquery("judged_clock")
    judged, outside = _judged(calls, windows, _hhmmss if dialect == "sqlite" else _seconds)
    # One statement judges the calls once: the first outside calls (an id
    # each), then a row per campaign with its counts (no id).
    flagged = judged(
        select(calls.c.id, calls.c.campaign_id, calls.c.dialed_at, outside.label("out"))
    ).cte("flagged")
    first_outside = (
        select(flagged.c.id, flagged.c.campaign_id, flagged.c.dialed_at, literal(0), literal(0))
        .where(flagged.c.out)
        .order_by(flagged.c.dialed_at, flagged.c.id)
        .limit(SAMPLE_LIMIT)
        .subquery("first_outside")
    )
    per_campaign = select(
        null(), flagged.c.campaign_id, null(), func.count(), count_if(flagged.c.out)
    ).group_by(flagged.c.campaign_id)
    totals: dict[int, int] = {}
    outside_counts: dict[int, int] = {}
    first: list[tuple[Any, str]] = []
    rows = session.execute(union_all(select(first_outside), per_campaign))
    for call_id, campaign_id, dialed_at, total, out in rows:
        if call_id is not None:
            first.append((dialed_at, call_id))
            continue
        totals[campaign_id] = int(total)
        if out:
            outside_counts[campaign_id] = int(out)
    samples = [call_id for _dialed_at, call_id in sorted(first)]
    return totals, outside_counts, samples


def _wall_clock(local: Any) -> list[Any]:
    """PostgreSQL: the local date, weekday (Monday 0) and second of the day
    (date_part's float: extract's numeric is slower, to_char slower still)."""
    day = cast(local, Date)
    weekday = cast(func.date_part("isodow", local), Integer) - 1
    second = func.date_part("epoch", cast(local, Time))
    return [day.label("day"), weekday.label("weekday"), second.label("second")]


def _sqlite_local(column_: Any, zone: Any, zones: list[str], filters: ReportFilters) -> Any:
    """SQLite knows no zones: each zone's offsets over the range (LocalClock)
    give the local 'YYYY-MM-DD w HHMMSS' (w: Sunday 0), one strftime() a row."""
    span = (filters.start, filters.end)
    clocks = [(tz, LocalClock("sqlite", tz, span)) for tz in zones or [filters.tz]]
    return case(
        *((zone == tz, clock.strftime("%Y-%m-%d %w %H%M%S", column_)) for tz, clock in clocks)
    )


def _sqlite_wall_clock(local: Any) -> list[Any]:
    """The date, weekday (Monday 0) and time of day as the number HHMMSS
    (_hhmmss), cut from _sqlite_local's text: one number, not three added up."""
    day = func.substr(local, 1, 10)
    weekday = (cast(func.substr(local, 12, 1), Integer) + 6) % 7
    second = cast(func.substr(local, 14), Integer)
    return [day.label("day"), weekday.label("weekday"), second.label("second")]


def _seconds(minute: int) -> int:
    """A window's edge as PostgreSQL's `second` column counts the time of day."""
    return minute * 60


def _hhmmss(minute: int) -> int:
    """A window's edge as SQLite's `second` column counts it: HHMMSS, in the
    order of the day (24:00 is 240000, after 23:59:59)."""
    return minute // 60 * 10000 + minute % 60 * 100


def _judged(
    calls: Any, windows: dict[int, CallingWindows], time_of_day: Callable[[int], int]
) -> tuple[Any, Any]:
    """Outer joins of the calls to the window of their campaign and local
    weekday that holds their wall-clock time (`time_of_day` gives a window's
    edge in the unit of the calls' `second`; a day's windows never
    overlap: at most one) and to their campaign's holiday on that date; and
    the condition of a call outside: no window, or a holiday."""
    # A row that matches nothing keeps each table non-empty.
    open_rows = [(-1, -1, 0, 0)] + [
        (cid, weekday_index, time_of_day(window.start), time_of_day(window.end))
        for cid, config in windows.items()
        for weekday_index, day_windows in enumerate(config.weekly)
        for window in day_windows
    ]
    holiday_rows = [(-1, date(1900, 1, 1))] + [
        (cid, holiday) for cid, config in windows.items() for holiday in config.holidays
    ]
    open_table = _rows_table(
        "open_windows", ("campaign_id", "weekday", "start_s", "end_s"), open_rows
    )
    holiday_table = _rows_table("holidays", ("campaign_id", "day"), holiday_rows)

    def joined(query: Any) -> Any:
        return query.outerjoin(
            open_table,
            and_(
                open_table.c.campaign_id == calls.c.campaign_id,
                open_table.c.weekday == calls.c.weekday,
                open_table.c.start_s <= calls.c.second,
                calls.c.second < open_table.c.end_s,
            ),
        ).outerjoin(
            holiday_table,
            and_(
                holiday_table.c.campaign_id == calls.c.campaign_id,
                holiday_table.c.day == calls.c.day,
            ),
        )

    outside = or_(open_table.c.campaign_id.is_(None), holiday_table.c.campaign_id.is_not(None))
    return joined, outside


def _rows_table(name: str, names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Any:
    """A small table of literal rows (SQLite cannot name VALUES columns)."""
    selects = [
        select(*(literal(value).label(key) for key, value in zip(names, row, strict=True)))
        for row in rows
    ]
    return union_all(*selects).subquery(name)


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
        select(Call.id, Call.campaign_id).where(OUTBOUND, listed, *call_conditions(filters))
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
