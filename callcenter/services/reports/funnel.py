"""Dials -> live answers -> contacts -> each script step reached ->
appointment set -> appointment held -> sale, with the rate between stages,
in total or by campaign, agent or date. The stages count outbound calls
only; the customers' own calls that agents answered are counted beside them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session

from callcenter.metrics import (
    CONTACT,
    DIALS,
    INBOUND_ANSWERED,
    LIVE_ANSWER,
    OUTBOUND,
    SCRIPT_STEPS,
    CallResults,
    count_if,
    ratio,
    reached_step,
)
from callcenter.models import Call
from callcenter.services.reports.filters import ReportFilters, call_conditions, group_key
from callcenter.services.reports.labels import _l
from callcenter.services.reports.scope import Names, ScriptLabels

GroupBy = Literal["total", "campaign", "agent", "date"]
GROUPS: tuple[GroupBy, ...] = ("total", "campaign", "agent", "date")


@dataclass(frozen=True)
class Stage:
    key: str
    label: str  # a msgid; translate when shown
    step: int | None = None


def stages(steps: int = SCRIPT_STEPS) -> list[Stage]:
    return [
        Stage("dials", _l("Dials")),
        Stage("live_answers", _l("Live answers")),
        Stage("contacts", _l("Contacts")),
        *(Stage(f"step_{n}", _l("Reached step %(step)s"), n) for n in range(1, steps + 1)),
        Stage("appointments", _l("Appointments set")),
        Stage("held", _l("Appointments held")),
        Stage("sales", _l("Sales")),
    ]


def _stage_columns(steps: int, results: CallResults) -> list[Any]:
    return [
        DIALS,
        count_if(LIVE_ANSWER),
        count_if(CONTACT),
        *(count_if(reached_step(n)) for n in range(1, steps + 1)),
        count_if(and_(OUTBOUND, results.appointment_set)),
        count_if(and_(OUTBOUND, results.appointment_held)),
        count_if(and_(OUTBOUND, results.sale)),
    ]


@dataclass(frozen=True)
class FunnelRow:
    key: Any
    label: str
    counts: tuple[int, ...]
    inbound_answered: int = 0  # customers' calls an agent took: not a stage

    def rates(self) -> list[float | None]:
        """Each stage / the stage before it (None for the first)."""
        return [None, *(ratio(b, a) for a, b in zip(self.counts, self.counts[1:], strict=False))]

    def of_dials(self) -> list[float | None]:
        return [ratio(count, self.counts[0]) for count in self.counts]


@dataclass
class FunnelReport:
    filters: ReportFilters
    group_by: GroupBy
    stages: list[Stage]
    step_titles: dict[int, str]
    rows: list[FunnelRow] = field(default_factory=list)
    total: FunnelRow | None = None


def funnel_report(
    session: Session, filters: ReportFilters, locale: str, group_by: GroupBy = "total"
) -> FunnelReport:
    if group_by not in GROUPS:
        raise ValueError(f"unknown grouping {group_by!r}")
    names = Names.load(session)
    labels = ScriptLabels.load(session, locale)
    conditions = call_conditions(filters)
    report = FunnelReport(filters, group_by, stages(), labels.steps)
    results = CallResults()
    columns = [*_stage_columns(SCRIPT_STEPS, results), count_if(INBOUND_ANSWERED)]
    key = _group_key(session, filters, group_by)
    query = results.joined(select(key, *columns).select_from(Call)).where(*conditions)
    rows = []
    # Every stage is a count, so the total is the sum of the groups' (one scan, not two).
    total = [0] * len(columns)
    for row in session.execute(query.group_by(key) if group_by != "total" else query):
        values = tuple(int(value or 0) for value in row[1:])
        total = [a + b for a, b in zip(total, values, strict=True)]
        rows.append(
            FunnelRow(
                _key(row[0], group_by), _label(names, row[0], group_by), values[:-1], values[-1]
            )
        )
    report.total = FunnelRow(None, "", tuple(total[:-1]), total[-1])
    if group_by == "total":
        report.rows = [report.total]
        return report
    report.rows = sorted(
        rows, key=lambda r: (r.key is None, r.key if group_by == "date" else r.label)
    )
    return report


def _group_key(session: Session, filters: ReportFilters, group_by: GroupBy) -> Any:
    if group_by == "campaign":
        return group_key(session, Call.campaign_id)
    if group_by == "agent":
        return group_key(session, Call.agent_id)
    if group_by == "date":
        return filters.clock(session).date(Call.dialed_at).label("day")
    return literal(None)


def _key(value: Any, group_by: GroupBy) -> Any:
    if group_by == "date" and value is not None and not isinstance(value, date):
        return date.fromisoformat(str(value))
    return value


def _label(names: Names, value: Any, group_by: GroupBy) -> str:
    if value is None:
        return ""
    if group_by == "campaign":
        return names.campaigns.get(value, str(value))
    if group_by == "agent":
        return names.users.get(value, str(value))
    return ""


__all__ = ["GROUPS", "FunnelReport", "FunnelRow", "GroupBy", "Stage", "func", "funnel_report"]


@dataclass(frozen=True)
class HourRow:
    hour: int
    dials: int
    live_answers: int
    contacts: int

    @property
    def contact_rate(self) -> float | None:
        """Live answers / dials."""
        return ratio(self.live_answers, self.dials)


def contact_rate_by_hour(session: Session, filters: ReportFilters) -> list[HourRow]:
    """Dials, live answers and contacts by the local hour they were dialed, 0-23."""
    hour = filters.clock(session).hour(Call.dialed_at).label("hour")
    query = (
        select(hour, DIALS, count_if(LIVE_ANSWER), count_if(CONTACT))
        .where(*call_conditions(filters))
        .group_by(hour)
    )
    found = {int(row[0]): row[1:] for row in session.execute(query)}
    return [HourRow(h, *(int(v) for v in found.get(h, (0, 0, 0)))) for h in range(24)]
