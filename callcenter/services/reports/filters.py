"""What a report is about: a date range (Jalali or Gregorian), campaigns,
agents, teams, lead lists, dispositions, and the campaigns the viewer may see."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import false, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from callcenter.dates import DateParseError, parse_date
from callcenter.errors import N_, InvalidInput
from callcenter.metrics import LocalClock
from callcenter.models import Call, Disposition, Lead, User

DEFAULT_TZ = "Asia/Tehran"


class InvalidFilter(InvalidInput):
    error_id = "report-filter-invalid"


@dataclass(frozen=True)
class ReportFilters:
    """Dates are local (tz) and inclusive; an empty tuple means "all".
    `visible_campaign_ids` is the viewer's scope: None for everything."""

    date_from: date | None = None
    date_to: date | None = None
    campaign_ids: tuple[int, ...] = ()
    agent_ids: tuple[int, ...] = ()
    team_ids: tuple[int, ...] = ()
    lead_list_ids: tuple[int, ...] = ()
    disposition_codes: tuple[str, ...] = ()
    tz: str = DEFAULT_TZ
    visible_campaign_ids: frozenset[int] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidFilter(
                N_("the start date is after the end date"), details={"field": "from"}
            )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def start(self) -> datetime | None:
        """The first instant of the range, in UTC."""
        if self.date_from is None:
            return None
        return datetime.combine(self.date_from, time(0), tzinfo=self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime | None:
        """The first instant after the range, in UTC."""
        if self.date_to is None:
            return None
        next_day = self.date_to + timedelta(days=1)
        return datetime.combine(next_day, time(0), tzinfo=self.zone).astimezone(UTC)

    def clock(self, session: Session) -> LocalClock:
        return LocalClock(session.get_bind().dialect.name, self.tz, (self.start, self.end))

    def to_dict(self) -> dict[str, Any]:
        """For the audit log and for links that keep the filters."""
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "campaign": list(self.campaign_ids),
            "agent": list(self.agent_ids),
            "team": list(self.team_ids),
            "list": list(self.lead_list_ids),
            "disposition": list(self.disposition_codes),
            "tz": self.tz,
        }

    def query_args(self) -> dict[str, Any]:
        """The filters as URL query arguments (Gregorian dates)."""
        return {key: value for key, value in self.to_dict().items() if value and key != "tz"}


def parse_filters(
    args: Mapping[str, Any],
    *,
    tz: str = DEFAULT_TZ,
    visible_campaign_ids: Iterable[int] | None = None,
) -> ReportFilters:
    """Filters from strings (a query string or CLI options). Dates may be typed
    in Jalali or Gregorian; ids may repeat or be comma separated."""
    return ReportFilters(
        date_from=_date(args, "from"),
        date_to=_date(args, "to"),
        campaign_ids=_ids(args, "campaign"),
        agent_ids=_ids(args, "agent"),
        team_ids=_ids(args, "team"),
        lead_list_ids=_ids(args, "list"),
        disposition_codes=tuple(sorted(set(_values(args, "disposition")))),
        tz=tz,
        visible_campaign_ids=(
            None if visible_campaign_ids is None else frozenset(visible_campaign_ids)
        ),
    )


def _values(args: Mapping[str, Any], key: str) -> list[str]:
    getlist = getattr(args, "getlist", None)
    raw = getlist(key) if getlist else args.get(key)
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str | int) else list(raw)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def _date(args: Mapping[str, Any], key: str) -> date | None:
    values = _values(args, key)
    if not values:
        return None
    try:
        return parse_date(values[0])
    except DateParseError:
        raise InvalidFilter(
            N_("'%(text)s' is not a date: type it year first, e.g. 1405/09/02 or 2026-11-23"),
            details={"field": key},
            text=values[0],
        ) from None


def _ids(args: Mapping[str, Any], key: str) -> tuple[int, ...]:
    try:
        return tuple(sorted({int(value) for value in _values(args, key)}))
    except ValueError:
        raise InvalidFilter(
            N_("%(field)s: expected numbers"), details={"field": key}, field=key
        ) from None


def call_conditions(filters: ReportFilters) -> list[ColumnElement[bool]]:
    """WHERE clauses selecting the calls a report counts. A call belongs to
    the date and hour it was dialed."""
    conditions: list[ColumnElement[bool]] = []
    if filters.start is not None:
        conditions.append(Call.dialed_at >= filters.start)
    if filters.end is not None:
        conditions.append(Call.dialed_at < filters.end)
    conditions.extend(campaign_conditions(filters, Call.campaign_id))
    if filters.agent_ids:
        conditions.append(Call.agent_id.in_(filters.agent_ids))
    if filters.team_ids:
        conditions.append(Call.agent_id.in_(team_member_ids(filters)))
    if filters.lead_list_ids:
        leads = select(Lead.id).where(Lead.lead_list_id.in_(filters.lead_list_ids))
        conditions.append(Call.lead_id.in_(leads))
    if filters.disposition_codes:
        closed = select(Disposition.call_id).where(Disposition.code.in_(filters.disposition_codes))
        conditions.append(Call.id.in_(closed))
    return conditions


def group_key(session: Session, column: Any) -> Any:
    """`column` to GROUP BY. On SQLite (no statistics: no ANALYZE ever runs)
    a grouped column with an index of its own, say calls.agent_id, lures the
    planner into reading the whole table in that index's order instead of
    the date range through ix_calls_dialed_campaign_outcome; `column + 0` is
    the same value with no index to lure it."""
    if session.get_bind().dialect.name == "sqlite":
        return (column + 0).label(column.key)
    return column


def campaign_conditions(filters: ReportFilters, column: Any) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.campaign_ids:
        conditions.append(column.in_(filters.campaign_ids))
    if filters.visible_campaign_ids is not None:
        visible = sorted(filters.visible_campaign_ids)
        conditions.append(column.in_(visible) if visible else false())
    return conditions


def team_member_ids(filters: ReportFilters) -> Any:
    return select(User.id).where(User.team_id.in_(filters.team_ids))
