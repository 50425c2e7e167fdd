"""Openers vs closers on real transfers: per agent, the calls they opened
(first to talk to the customer), the ones they handed on, and the ones they
took over from another agent and closed, with how many of those converted
(an appointment booked or a sale)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from callcenter.metrics import APPOINTMENT_SET, SALE, count_if, ratio
from callcenter.models import Call, CallTransfer
from callcenter.services.reports.filters import ReportFilters, call_conditions, team_member_ids
from callcenter.services.reports.scope import Names
from callcenter.states import TransferState


@dataclass
class OpenerCloserRow:
    agent_id: int
    name: str
    opened: int = 0
    transferred: int = 0
    closed: int = 0  # taken over from another agent
    converted: int = 0  # of those, an appointment or a sale

    @property
    def closer_conversion(self) -> float | None:
        return ratio(self.converted, self.closed)


def openers_closers(session: Session, filters: ReportFilters) -> list[OpenerCloserRow]:
    names = Names.load(session)
    rows: dict[int, OpenerCloserRow] = {}

    def row(agent_id: int) -> OpenerCloserRow:
        if agent_id not in rows:
            rows[agent_id] = OpenerCloserRow(agent_id, names.users.get(agent_id, str(agent_id)))
        return rows[agent_id]

    conditions = call_conditions(replace(filters, agent_ids=(), team_ids=()))
    opener = func.coalesce(Call.opened_by_id, Call.agent_id)
    opened = (
        select(opener, func.count())
        .where(Call.connected_at.is_not(None), opener.is_not(None), *conditions)
        .group_by(opener)
    )
    for agent_id, count in session.execute(opened):
        row(agent_id).opened = int(count)
    handed_on = (
        select(CallTransfer.from_agent_id, func.count())
        .join(Call, Call.id == CallTransfer.call_id)
        .where(CallTransfer.state == TransferState.COMPLETED, *conditions)
        .group_by(CallTransfer.from_agent_id)
    )
    for agent_id, count in session.execute(handed_on):
        row(agent_id).transferred = int(count)
    taken_over = and_(
        Call.opened_by_id.is_not(None), Call.agent_id.is_not(None),
        Call.opened_by_id != Call.agent_id,
    )  # fmt: skip
    closed = (
        select(Call.agent_id, func.count(), count_if(APPOINTMENT_SET | SALE))
        .where(taken_over, *conditions)
        .group_by(Call.agent_id)
    )
    for agent_id, count, converted in session.execute(closed):
        target = row(agent_id)
        target.closed, target.converted = int(count), int(converted)
    wanted = _agents_wanted(session, filters)
    chosen = [r for r in rows.values() if wanted is None or r.agent_id in wanted]
    return sorted(chosen, key=lambda r: (r.name, r.agent_id))


def _agents_wanted(session: Session, filters: ReportFilters) -> set[int] | None:
    wanted: set[int] | None = None
    if filters.agent_ids:
        wanted = set(filters.agent_ids)
    if filters.team_ids:
        members = set(session.scalars(team_member_ids(filters)))
        wanted = members if wanted is None else wanted & members
    return wanted
