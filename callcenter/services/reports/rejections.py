"""Where in the call prospects say no, and why: by script step and reason,
agent, campaign, lead list, hour of day, weekday and date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from callcenter.metrics import (
    CONTACT,
    SCRIPT_STEPS,
    count_if,
    ratio,
    reached_step,
    rejection_of_call,
)
from callcenter.models import Call, Lead
from callcenter.services.reports.filters import ReportFilters, call_conditions
from callcenter.services.reports.scope import Names, ScriptLabels


@dataclass(frozen=True)
class StepRow:
    step: int
    title: str
    reached: int
    rejections: int

    @property
    def rate(self) -> float | None:
        """Rejections at this step / calls that reached it."""
        return ratio(self.rejections, self.reached)


@dataclass(frozen=True)
class ReasonRow:
    step: int
    code: str
    label: str
    rejections: int
    reached: int
    step_rejections: int

    @property
    def rate(self) -> float | None:
        return ratio(self.rejections, self.reached)

    @property
    def share(self) -> float | None:
        """This reason's part of the step's rejections."""
        return ratio(self.rejections, self.step_rejections)


@dataclass(frozen=True)
class BreakdownRow:
    key: Any
    label: str
    contacts: int
    rejections: int

    @property
    def rate(self) -> float | None:
        """Rejections / contacts."""
        return ratio(self.rejections, self.contacts)


@dataclass
class RejectionsReport:
    filters: ReportFilters
    contacts: int = 0
    rejections: int = 0
    by_step: list[StepRow] = field(default_factory=list)
    by_reason: list[ReasonRow] = field(default_factory=list)
    by_agent: list[BreakdownRow] = field(default_factory=list)
    by_campaign: list[BreakdownRow] = field(default_factory=list)
    by_list: list[BreakdownRow] = field(default_factory=list)
    by_hour: list[BreakdownRow] = field(default_factory=list)
    by_weekday: list[BreakdownRow] = field(default_factory=list)
    by_date: list[BreakdownRow] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return ratio(self.rejections, self.contacts)


def rejections_report(session: Session, filters: ReportFilters, locale: str) -> RejectionsReport:
    names = Names.load(session)
    labels = ScriptLabels.load(session, locale)
    conditions = call_conditions(filters)
    rejection = rejection_of_call()
    clock = filters.clock(session)

    rejected_contact = and_(CONTACT, rejection.c.call_id.is_not(None))

    def breakdown(key: Any, *, join_lead: bool = False) -> list[tuple[Any, int, int]]:
        query = select(key, count_if(CONTACT), count_if(rejected_contact)).select_from(Call)
        if join_lead:
            query = query.join(Lead, Lead.id == Call.lead_id)
        query = query.outerjoin(rejection, rejection.c.call_id == Call.id).where(*conditions)
        rows = session.execute(query.group_by(key)).all()
        return [(row[0], int(row[1]), int(row[2])) for row in rows]

    report = RejectionsReport(filters)
    # A rejection is a person's no: only contacts have one (not a machine the agent marked).
    steps = _steps(session, [*conditions, CONTACT], rejection, labels)
    report.by_step = steps
    report.contacts = int(session.scalar(select(count_if(CONTACT)).where(*conditions)) or 0)
    report.rejections = sum(row.rejections for row in steps)
    report.by_reason = _reasons(session, [*conditions, CONTACT], rejection, labels, steps)

    def named(rows: list[tuple[Any, int, int]], lookup: dict[int, str]) -> list[BreakdownRow]:
        result = [BreakdownRow(key, _name(lookup, key), c, r) for key, c, r in rows]
        return sorted(result, key=lambda row: (-row.rejections, row.label))

    report.by_agent = named(breakdown(Call.agent_id), names.users)
    report.by_campaign = named(breakdown(Call.campaign_id), names.campaigns)
    report.by_list = named(breakdown(Lead.lead_list_id, join_lead=True), names.lead_lists)
    report.by_hour = _dense(breakdown(clock.hour(Call.dialed_at).label("hour")), range(24))
    report.by_weekday = _dense(breakdown(clock.weekday(Call.dialed_at).label("wd")), range(7))
    report.by_date = [
        BreakdownRow(_as_date(key), "", c, r)
        for key, c, r in sorted(breakdown(clock.date(Call.dialed_at).label("day")))
    ]
    return report


def _steps(
    session: Session, conditions: list[Any], rejection: Any, labels: ScriptLabels
) -> list[StepRow]:
    deepest = session.scalar(select(func.max(Call.max_step_reached)).where(*conditions)) or 0
    last = max(SCRIPT_STEPS, int(deepest))
    reached_row = session.execute(
        select(*(count_if(reached_step(n)) for n in range(1, last + 1))).where(*conditions)
    ).one()
    rejected: dict[int, int] = dict(
        session.execute(
            select(rejection.c.step_number, func.count())
            .select_from(Call)
            .join(rejection, rejection.c.call_id == Call.id)
            .where(*conditions)
            .group_by(rejection.c.step_number)
        )
        .tuples()
        .all()
    )
    return [
        StepRow(n, labels.step(n), int(reached_row[n - 1] or 0), int(rejected.get(n, 0)))
        for n in range(1, last + 1)
    ]


def _reasons(
    session: Session,
    conditions: list[Any],
    rejection: Any,
    labels: ScriptLabels,
    steps: list[StepRow],
) -> list[ReasonRow]:
    by_step = {row.step: row for row in steps}
    rows = session.execute(
        select(rejection.c.step_number, rejection.c.reason_code, func.count())
        .select_from(Call)
        .join(rejection, rejection.c.call_id == Call.id)
        .where(*conditions)
        .group_by(rejection.c.step_number, rejection.c.reason_code)
    ).all()
    result = []
    for step, code, count in rows:
        step_row = by_step.get(step)
        result.append(
            ReasonRow(
                step=step,
                code=code or "",
                label=labels.reason(step, code),
                rejections=int(count),
                reached=step_row.reached if step_row else 0,
                step_rejections=step_row.rejections if step_row else 0,
            )
        )
    return sorted(result, key=lambda row: (row.step, -row.rejections, row.code))


def _dense(rows: list[tuple[Any, int, int]], keys: range) -> list[BreakdownRow]:
    found = {int(key): (contacts, rejections) for key, contacts, rejections in rows}
    return [BreakdownRow(key, "", *found.get(key, (0, 0))) for key in keys]


def _name(lookup: dict[int, str], key: int | None) -> str:
    return "" if key is None else lookup.get(key, str(key))


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
