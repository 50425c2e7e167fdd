"""Agent performance: calls, contacts, time by state (talk, wait, wrap-up,
pause by reason), AHT, occupancy, appointments, conversion, and the
opportunity-to-win split (openers: contacts -> appointments; closers:
appointments they own -> sales)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.metrics import (
    CONTACT,
    DIALS,
    HANDLED,
    INBOUND_ANSWERED,
    TALK_SECONDS,
    WRAP_UP_SECONDS,
    CallResults,
    average_handle_time,
    count_if,
    occupancy,
    ratio,
    state_intervals,
    sum_of,
)
from callcenter.models import (
    AgentStateChange,
    Appointment,
    AppointmentStatus,
    Call,
    PauseReason,
    QaScore,
    User,
)
from callcenter.services.reports.filters import (
    ReportFilters,
    call_conditions,
    group_key,
    team_member_ids,
)
from callcenter.services.reports.scope import Names
from callcenter.states import HELD_STATUSES, AgentState


@dataclass
class AgentRow:
    agent_id: int
    name: str
    team: str = ""
    calls: int = 0  # outbound calls (dials)
    contacts: int = 0
    inbound_answered: int = 0  # customers' calls to the campaign the agent took
    handled: int = 0  # contacts and the machines that reached the agent (the AHT base)
    appointments: int = 0
    sales: int = 0
    call_talk_seconds: float = 0.0
    call_wrap_up_seconds: float = 0.0
    talk_seconds: float = 0.0
    wait_seconds: float = 0.0
    reserved_seconds: float = 0.0
    wrap_up_seconds: float = 0.0
    pause_seconds: dict[str, float] = field(default_factory=dict)
    paid_pause_seconds: float = 0.0
    owned_appointments: int = 0
    held_appointments: int = 0
    sold_appointments: int = 0
    sales_amount: Decimal = Decimal(0)  # rials, of the meetings they sold
    qa_scored: int = 0  # QA scores given to this agent's calls
    qa_points: int = 0
    qa_max_points: int = 0
    qa_auto_fails: int = 0

    @property
    def qa_score(self) -> float | None:
        """Points over possible points of the scored calls (an auto-fail scores 0)."""
        return ratio(self.qa_points, self.qa_max_points)

    @property
    def pause_total(self) -> float:
        return sum(self.pause_seconds.values())

    @property
    def unpaid_pause_seconds(self) -> float:
        return self.pause_total - self.paid_pause_seconds

    @property
    def aht(self) -> float | None:
        return average_handle_time(self.call_talk_seconds, self.call_wrap_up_seconds, self.handled)

    @property
    def occupancy(self) -> float | None:
        return occupancy(self.talk_seconds, self.wrap_up_seconds, self.wait_seconds)

    @property
    def conversion(self) -> float | None:
        """Appointments / people talked to (contacts and inbound calls
        answered): the opener's win rate."""
        return ratio(self.appointments, self.contacts + self.inbound_answered)

    @property
    def close_rate(self) -> float | None:
        """Sold / appointments in the agent's calendar: the closer's win rate."""
        return ratio(self.sold_appointments, self.owned_appointments)

    @property
    def role(self) -> str:
        """'opener', 'closer', 'both' or '' by where the agent wins."""
        opens = self.appointments > 0
        closes = self.sold_appointments > 0
        return {(True, True): "both", (True, False): "opener", (False, True): "closer"}.get(
            (opens, closes), ""
        )


@dataclass
class AgentsReport:
    filters: ReportFilters
    rows: list[AgentRow]
    pause_reasons: list[str]

    @property
    def total(self) -> AgentRow:
        total = AgentRow(0, "")
        for row in self.rows:
            for name in (
                "calls", "contacts", "handled", "inbound_answered", "appointments", "sales",
                "call_talk_seconds", "call_wrap_up_seconds", "talk_seconds", "wait_seconds",
                "reserved_seconds", "wrap_up_seconds", "paid_pause_seconds", "owned_appointments",
                "held_appointments", "sold_appointments", "sales_amount",
                "qa_scored", "qa_points", "qa_max_points", "qa_auto_fails",
            ):  # fmt: skip
                setattr(total, name, getattr(total, name) + getattr(row, name))
            for reason, seconds in row.pause_seconds.items():
                total.pause_seconds[reason] = total.pause_seconds.get(reason, 0.0) + seconds
        return total


def agents_report(session: Session, filters: ReportFilters) -> AgentsReport:
    names = Names.load(session)
    rows: dict[int, AgentRow] = {}

    def row(agent_id: int) -> AgentRow:
        if agent_id not in rows:
            rows[agent_id] = AgentRow(agent_id, names.users.get(agent_id, str(agent_id)))
        return rows[agent_id]

    _add_calls(session, filters, row)
    _add_closing(session, filters, row)
    _add_qa(session, filters, row)
    reasons = _add_state_time(session, filters, row, restrict_to=set(rows))
    teams: dict[int, int | None] = dict(
        session.execute(select(User.id, User.team_id)).tuples().all()
    )
    for agent_row in rows.values():
        agent_row.team = names.teams.get(teams.get(agent_row.agent_id) or 0, "")
    ordered = sorted(rows.values(), key=lambda r: (r.name, r.agent_id))
    return AgentsReport(filters, ordered, reasons)


def _add_calls(session: Session, filters: ReportFilters, row: Any) -> None:
    results = CallResults()
    agent = group_key(session, Call.agent_id)
    query = results.joined(
        select(
            agent,
            DIALS,
            count_if(CONTACT),
            count_if(HANDLED),
            count_if(INBOUND_ANSWERED),
            count_if(results.appointment_set),
            count_if(results.sale),
            sum_of(TALK_SECONDS),
            sum_of(WRAP_UP_SECONDS),
        ).select_from(Call)
    )
    query = query.where(Call.agent_id.is_not(None), *call_conditions(filters)).group_by(agent)
    for (
        agent_id, calls, contacts, handled, inbound, appointments, sales, talk, wrap
    ) in session.execute(query):  # fmt: skip
        target = row(agent_id)
        target.calls, target.contacts, target.handled = int(calls), int(contacts), int(handled)
        target.inbound_answered = int(inbound)
        target.appointments, target.sales = int(appointments), int(sales)
        target.call_talk_seconds, target.call_wrap_up_seconds = float(talk), float(wrap)


def _add_closing(session: Session, filters: ReportFilters, row: Any) -> None:
    """Appointments booked on the report's calls, counted for the
    salesperson who holds them (the closer)."""
    calls = select(Call.id).where(*_conditions_without_agent(filters))
    owner_filter = []
    if filters.agent_ids:
        owner_filter.append(Appointment.owner_id.in_(filters.agent_ids))
    if filters.team_ids:
        owner_filter.append(Appointment.owner_id.in_(team_member_ids(filters)))
    query = (
        select(
            Appointment.owner_id,
            func.count(),
            count_if(Appointment.status.in_(HELD_STATUSES)),
            count_if(Appointment.status == AppointmentStatus.SOLD),
            func.coalesce(func.sum(Appointment.sale_amount), 0),
        )
        .where(
            Appointment.call_id.in_(calls),
            # A moved meeting is counted once, at its new time.
            Appointment.status != AppointmentStatus.RESCHEDULED,
            *owner_filter,
        )
        .group_by(Appointment.owner_id)
    )
    for owner_id, owned, held_count, sold, amount in session.execute(query):
        target = row(owner_id)
        target.sales_amount = Decimal(amount)
        target.owned_appointments = int(owned)
        target.held_appointments = int(held_count)
        target.sold_appointments = int(sold)


def _add_qa(session: Session, filters: ReportFilters, row: Any) -> None:
    """QA scores of the report's calls, for the agent who took each call."""
    query = (
        select(
            QaScore.agent_id,
            func.count(),
            func.sum(QaScore.points),
            func.sum(QaScore.max_points),
            count_if(QaScore.auto_failed.is_(True)),
        )
        .join(Call, Call.id == QaScore.call_id)
        .where(*call_conditions(filters))
        .group_by(QaScore.agent_id)
    )
    for agent_id, scored, points, max_points, fails in session.execute(query):
        target = row(agent_id)
        target.qa_scored, target.qa_auto_fails = int(scored), int(fails)
        target.qa_points, target.qa_max_points = int(points or 0), int(max_points or 0)


def _conditions_without_agent(filters: ReportFilters) -> list[Any]:
    from dataclasses import replace

    return call_conditions(replace(filters, agent_ids=(), team_ids=()))


def _add_state_time(
    session: Session, filters: ReportFilters, row: Any, *, restrict_to: set[int]
) -> list[str]:
    """Time in each state, clipped to the date range (and to now)."""
    now = utcnow()
    end = min(filters.end, now) if filters.end else now
    table = AgentStateChange
    intervals = state_intervals(
        table, filters.start, end, partition=table.agent_id, order=(table.at, table.id)
    )
    query = select(
        intervals.c.agent_id,
        intervals.c.to_state,
        intervals.c.reason,
        func.sum(intervals.c.seconds),
    ).group_by(intervals.c.agent_id, intervals.c.to_state, intervals.c.reason)
    if filters.agent_ids:
        query = query.where(intervals.c.agent_id.in_(filters.agent_ids))
    if filters.team_ids:
        query = query.where(intervals.c.agent_id.in_(team_member_ids(filters)))
    if filters.campaign_ids:
        query = query.where(intervals.c.campaign_id.in_(filters.campaign_ids))
    if filters.visible_campaign_ids is not None:
        visible = sorted(filters.visible_campaign_ids)
        query = query.where(
            or_(
                intervals.c.campaign_id.in_(visible),
                intervals.c.agent_id.in_(sorted(restrict_to)),
            )
        )
    reasons: dict[str, None] = {}
    pauses: dict[int, dict[str, float]] = defaultdict(dict)
    for agent_id, state, reason, seconds in session.execute(query):
        seconds = max(float(seconds or 0.0), 0.0)
        state = AgentState(state)
        if state is AgentState.LOGGED_OUT or (seconds == 0.0 and agent_id not in restrict_to):
            continue
        target = row(agent_id)
        if state is AgentState.ON_CALL:
            target.talk_seconds += seconds
        elif state is AgentState.WRAP_UP:
            target.wrap_up_seconds += seconds
        elif state is AgentState.READY:
            target.wait_seconds += seconds
        elif state is AgentState.RESERVED:
            target.reserved_seconds += seconds
        elif state is AgentState.PAUSED:
            key = reason or ""
            reasons[key] = None
            pauses[agent_id][key] = pauses[agent_id].get(key, 0.0) + seconds
    paid = set(session.scalars(select(PauseReason.code).where(PauseReason.is_paid.is_(True))))
    for agent_id, by_reason in pauses.items():
        target = row(agent_id)
        target.pause_seconds = by_reason
        target.paid_pause_seconds = sum(s for code, s in by_reason.items() if code in paid)
    return sorted(reasons)
