"""Where in the call prospects say no, and why: by script step and reason,
agent, campaign, lead list, hour of day, weekday and date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from callcenter.metrics import (
    CONTACT,
    SCRIPT_STEPS,
    LocalClock,
    count_if,
    ratio,
    reached_step,
    rejection_of_call,
)
from callcenter.models import Call, Lead
from callcenter.services.reports.filters import ReportFilters, call_conditions, group_key
from callcenter.services.reports.scope import Names, ScriptLabels

# Steps counted in the same pass as the deepest step reached (the built-in
# script has nine; a deeper one costs a second pass).
_STEP_COLUMNS = 12


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
    clock = filters.clock(session)

    report = RejectionsReport(filters)
    step_rows, breakdown_rows = _one_pass(session, conditions, _local_hour(session, clock))
    rejected, steps = _steps(session, conditions, step_rows, labels)
    report.by_step = steps
    report.rejections = sum(row.rejections for row in steps)
    report.by_reason = _reasons(rejected, labels, steps)

    # The breakdowns come as counts by agent, campaign, list and local hour,
    # added up here along each dimension (day, hour and weekday follow from the hour).
    dimensions: list[dict[Any, list[int]]] = [{} for _ in range(6)]
    for agent_id, campaign_id, list_id, began, contacts, rejections in breakdown_rows:
        began = _as_datetime(began)
        when = began.date()
        for index, key in enumerate(
            (agent_id, campaign_id, list_id, began.hour, when.weekday(), when)
        ):
            counts = dimensions[index].setdefault(key, [0, 0])
            counts[0] += int(contacts)
            counts[1] += int(rejections)
    by_agent, by_campaign, by_list, by_hour, by_weekday, by_date = (
        [(key, c, r) for key, (c, r) in dimension.items()] for dimension in dimensions
    )
    report.contacts = sum(contacts for _key, contacts, _r in by_agent)

    def named(rows: list[tuple[Any, int, int]], lookup: dict[int, str]) -> list[BreakdownRow]:
        result = [BreakdownRow(key, _name(lookup, key), c, r) for key, c, r in rows]
        return sorted(result, key=lambda row: (-row.rejections, row.label))

    report.by_agent = named(by_agent, names.users)
    report.by_campaign = named(by_campaign, names.campaigns)
    report.by_list = named(by_list, names.lead_lists)
    report.by_hour = _dense(by_hour, range(24))
    report.by_weekday = _dense(by_weekday, range(7))
    report.by_date = [BreakdownRow(key, "", c, r) for key, c, r in sorted(by_date)]
    return report


def _one_pass(
    session: Session, conditions: list[Any], hour: Any
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The calls joined to their lead and their no once (a CTE), grouped two
    ways in one statement: the contacts by step and reason of their no
    (none for most), each group with its deepest step and its counts of
    steps reached; and every call by agent, campaign, lead list and local
    hour, with its contacts and rejected contacts. The two groupings share
    one row shape (UNION ALL), padded with NULLs, told apart by `steps`.

    A rejection is a person's no: only contacts have one (not a machine the
    agent marked)."""
    rejection = rejection_of_call()
    contact = case((CONTACT, 1), else_=0)
    per_call = (
        select(
            group_key(session, Call.agent_id),
            group_key(session, Call.campaign_id),
            Lead.lead_list_id,
            hour.label("hour"),
            rejection.c.step_number,
            rejection.c.reason_code,
            Call.max_step_reached,
            contact.label("contact"),
            case((rejection.c.call_id.is_(None), 0), else_=contact).label("rejected"),
        )
        .join(Lead, Lead.id == Call.lead_id)
        .outerjoin(rejection, rejection.c.call_id == Call.id)
        .where(*conditions)
        .cte("per_call")
    )
    c = per_call.c
    empty = [null()] * (_STEP_COLUMNS + 1)
    by_step = (
        select(
            literal(True).label("steps"),
            *[null()] * 4,
            c.step_number,
            c.reason_code,
            func.count(),
            func.sum(c.rejected),
            func.max(c.max_step_reached),
            *(count_if(c.max_step_reached >= n) for n in range(1, _STEP_COLUMNS + 1)),
        )
        .where(c.contact == 1)
        .group_by(c.step_number, c.reason_code)
    )
    keys = (c.agent_id, c.campaign_id, c.lead_list_id, c.hour)
    by_breakdown = select(
        literal(False), *keys, null(), null(), func.sum(c.contact), func.sum(c.rejected), *empty
    ).group_by(*keys)
    step_rows: list[tuple[Any, ...]] = []
    breakdown_rows: list[tuple[Any, ...]] = []
    for row in session.execute(union_all(by_step, by_breakdown)):
        if row[0]:
            step_rows.append(tuple(row[5:]))
        else:
            breakdown_rows.append((*row[1:5], *row[7:9]))
    return step_rows, breakdown_rows


def _steps(
    session: Session, conditions: list[Any], step_rows: list[tuple[Any, ...]], labels: ScriptLabels
) -> tuple[list[tuple[int, str | None, int]], list[StepRow]]:
    """(step, reason code, rejections) of the contacts, and the steps
    reached, from _one_pass's rows: (step, reason code, contacts,
    rejections, deepest step, reached step 1, 2, ...)."""
    rejected: list[tuple[int, str | None, int]] = []
    deepest = 0
    reached = [0] * _STEP_COLUMNS
    for row in step_rows:
        if row[3]:
            rejected.append((row[0], row[1], int(row[3])))
        deepest = max(deepest, int(row[4] or 0))
        reached = [total + int(value or 0) for total, value in zip(reached, row[5:], strict=True)]
    last = max(SCRIPT_STEPS, deepest)
    if last > _STEP_COLUMNS:  # a script deeper than any seen so far: count again
        reached = [
            int(value or 0)
            for value in session.execute(
                select(*(count_if(reached_step(n)) for n in range(1, last + 1))).where(*conditions)
            ).one()
        ]
    by_step: dict[int, int] = {}
    for number, _code, count in rejected:
        by_step[number] = by_step.get(number, 0) + count
    steps = [
        StepRow(n, labels.step(n), reached[n - 1], by_step.get(n, 0)) for n in range(1, last + 1)
    ]
    return rejected, steps


def _reasons(
    rejected: list[tuple[int, str | None, int]], labels: ScriptLabels, steps: list[StepRow]
) -> list[ReasonRow]:
    by_step = {row.step: row for row in steps}
    result = []
    for step, code, count in rejected:
        step_row = by_step.get(step)
        result.append(
            ReasonRow(
                step=step,
                code=code or "",
                label=labels.reason(step, code),
                rejections=count,
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


def _local_hour(session: Session, clock: LocalClock) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return clock.strftime("%Y-%m-%d %H:00:00", Call.dialed_at)
    return func.date_trunc("hour", clock.local(Call.dialed_at))


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
