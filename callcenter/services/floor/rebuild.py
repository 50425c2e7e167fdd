"""The live floor's counters computed from the database: after a restart, at
the first event of a day, and to check the live counting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from callcenter import metrics
from callcenter.domain_events import CallMarkedMachine
from callcenter.live_counters import Fact, LiveCounters, Totals
from callcenter.models import AgentStateChange, AgentStatus, Call, Campaign, Customer
from callcenter.services.floor.payloads import STATE_SECONDS, full_name, to_iso
from callcenter.states import AgentState, CallDirection, CallOutcome, CallState

# An earlier day's call whose events may still come after a rebuild: one that
# is live, or ended this long before the day began (its wrap-up, an agent
# marking it a machine, a late consumer).
LATE_EVENTS = timedelta(hours=1)


def rebuild_counters_from_db(
    session: Session,
    day: date,
    *,
    counters: LiveCounters,
    tz: ZoneInfo | str = "Asia/Tehran",
    now: datetime | None = None,
    live: bool = True,
) -> bool:
    """Recompute `day`'s counters from the rows (after a restart, or to check
    the live counting), the abandon window's earlier days, and (with `live`)
    the calls in progress and the agents' states.

    `session` must not have read yet: what other processes count or write to
    the live maps from here on is counted and written again on top of what it
    reads (`LiveCounters.begin_rebuild`), so a count, a dial or an agent's
    change made between the read and the write is kept. False when the
    counters refused the write (they lost those counts: Redis restarted
    empty meanwhile); they may then hold part of it, and need a rebuild."""
    mark = counters.begin_rebuild()
    try:
        return _rebuild(session, day, counters, mark, tz=tz, now=now, live=live)
    finally:
        counters.end_rebuild(mark)


def _rebuild(
    session: Session,
    day: date,
    counters: LiveCounters,
    mark: str,
    *,
    tz: ZoneInfo | str,
    now: datetime | None,
    live: bool,
) -> bool:
    _one_snapshot(session)
    totals, agent_totals = totals_from_db(session, day, tz=tz, now=now)
    start, end = _bounds(day, tz)
    facts = facts_from_db(session, (Call.dialed_at >= start) & (Call.dialed_at < end))
    if not counters.replace_day(day, totals, agent_totals, facts, since=mark):
        return False
    window = window_totals_from_db(session, day, tz=tz)
    if window:
        late = (Call.dialed_at >= _bounds(min(window), tz)[0]) & (Call.dialed_at < start)
        late &= or_(Call.state != CallState.ENDED, Call.ended_at >= start - LATE_EVENTS)
        by_day = _facts_by_day(session, late, tz)
        for earlier, values in window.items():
            if not counters.replace_day(earlier, values, {}, by_day.get(earlier, {}), since=mark):
                return False
    if live:
        return counters.replace_live(*live_maps_from_db(session, day, tz=tz), since=mark)
    return True


def rebuild_live_from_db(
    session: Session, day: date, *, counters: LiveCounters, tz: ZoneInfo | str = "Asia/Tehran"
) -> bool:
    """The calls in progress and the agents' states from the rows, as
    `rebuild_counters_from_db` writes them with `live`: `session` must not
    have read yet, and what other processes write to the live maps from here
    on is written again on top of what it reads. False when the counters
    refused the write."""
    mark = counters.begin_rebuild()
    try:
        return counters.replace_live(*live_maps_from_db(session, day, tz=tz), since=mark)
    finally:
        counters.end_rebuild(mark)


def _one_snapshot(session: Session) -> None:
    """The totals and the facts about each call read from one snapshot: on
    PostgreSQL each statement of a READ COMMITTED transaction sees the commits
    made before it, and an end committed between the two reads would be in one
    and not the other. (SQLite's deferred read transaction is one snapshot.)"""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def facts_from_db(session: Session, which: ColumnElement[bool]) -> dict[str, Fact]:
    """What the totals computed from these calls' rows hold about each call,
    so that a late event about one of them does not count it again."""
    return {call_id: facts for call_id, facts, _ in _facts(session, which)}


def _facts_by_day(
    session: Session, which: ColumnElement[bool], tz: ZoneInfo | str
) -> dict[date, dict[str, Fact]]:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    found: dict[date, dict[str, Fact]] = {}
    for call_id, facts, dialed_at in _facts(session, which):
        found.setdefault(dialed_at.astimezone(zone).date(), {})[call_id] = facts
    return found


def _facts(session: Session, which: ColumnElement[bool]) -> list[tuple[str, Fact, datetime]]:
    rows = session.execute(
        select(
            Call.id,
            Call.dialed_at,
            Call.answered_at.is_not(None),
            Call.connected_at.is_not(None),
            Call.state == CallState.ENDED,
            metrics.APPOINTMENT_SET,
            Call.wrap_up_ended_at.is_not(None),
            Call.outcome == CallOutcome.MACHINE,
        ).where(which)
    )
    flags = (
        Fact.ANSWERED, Fact.CONNECTED, Fact.ENDED, Fact.APPOINTMENT, Fact.WRAP_UP, Fact.MACHINE,
    )  # fmt: skip
    found = []
    for call_id, dialed_at, *known in rows:
        facts = Fact.DIALED
        for flag, present in zip(flags, known, strict=True):
            if present:
                facts |= flag
        found.append((call_id, facts, dialed_at))
    return found


def _bounds(day: date, tz: ZoneInfo | str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    return start, end


def window_totals_from_db(
    session: Session, day: date, *, tz: ZoneInfo | str = "Asia/Tehran"
) -> dict[date, dict[int, Totals]]:
    """Dials, live answers and abandons of the days before `day` that any
    campaign's abandon window covers, grouped by local date in one query."""
    zone_name = tz if isinstance(tz, str) else tz.key
    zone = ZoneInfo(zone_name)
    longest = session.scalar(select(func.max(Campaign.abandon_window_days))) or 0
    if longest <= 1:
        return {}
    first = day - timedelta(days=longest - 1)
    start = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    clock = metrics.LocalClock(session.get_bind().dialect.name, zone_name, (start, end))
    local_day = clock.date(Call.dialed_at).label("day")
    query = (
        select(local_day, Call.campaign_id, *metrics.CALL_COUNT_COLUMNS[:4])
        .where(Call.dialed_at >= start, Call.dialed_at < end)
        .group_by(local_day, Call.campaign_id)
    )
    found: dict[date, dict[int, Totals]] = {
        first + timedelta(days=n): {} for n in range(longest - 1)
    }
    for row in session.execute(query):
        when = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
        values = {
            "dials": float(row.dials),
            "live_answers": float(row.live_answers),
            "contacts": float(row.contacts),
            "abandoned": float(row.abandoned),
        }
        found.setdefault(when, {})[row.campaign_id] = values
    return found


def totals_from_db(
    session: Session, day: date, *, tz: ZoneInfo | str = "Asia/Tehran", now: datetime | None = None
) -> tuple[dict[int, Totals], dict[int, Totals]]:
    """The day's counters computed from the rows with `callcenter.metrics`.
    Agent state time counts only closed intervals (the live floor adds the
    open ones as it goes)."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    dialed = (Call.dialed_at >= start) & (Call.dialed_at < end)
    totals: dict[int, Totals] = {}
    columns = (
        *metrics.CALL_COUNT_COLUMNS,
        metrics.count_if(metrics.INBOUND_MISSED).label("inbound_missed"),
        metrics.count_if(metrics.CONNECTED_IN_SERVICE_LEVEL).label("connected_sl"),
        metrics.sum_of(metrics.CONNECT_WAIT_SECONDS).label("connect_wait_s"),
        func.count(metrics.CONNECT_WAIT_SECONDS).label("connect_wait_n"),
        metrics.sum_of(metrics.TALK_SECONDS).label("talk_s"),
        metrics.sum_of(metrics.WRAP_UP_SECONDS).label("wrap_up_s"),
    )
    names = (
        "dials", "live_answers", "contacts", "abandoned", "appointments", "machines", "handled",
        "inbound", "inbound_answered", "inbound_missed",
    )  # fmt: skip
    extra = ("connected_sl", "connect_wait_s", "connect_wait_n", "talk_s", "wrap_up_s")
    for row in session.execute(
        select(Call.campaign_id, *columns).where(dialed).group_by(Call.campaign_id)
    ):
        mapping = row._mapping
        values = {name: float(mapping[name] or 0) for name in (*names, *extra)}
        totals[row.campaign_id] = {k: v for k, v in values.items() if v}
    _state_time_from_db(session, start, min(end, now or end), totals)
    agent_totals: dict[int, Totals] = {}
    per_agent = select(
        Call.agent_id,
        metrics.count_if(metrics.CONTACT).label("calls"),
        metrics.count_if(metrics.APPOINTMENT_SET).label("appointments"),
    ).where(dialed, Call.agent_id.is_not(None))
    for agent_id, calls, appointments in session.execute(per_agent.group_by(Call.agent_id)):
        agent_totals[agent_id] = {
            k: float(v) for k, v in (("calls", calls), ("appointments", appointments)) if v
        }
    return totals, agent_totals


def _state_time_from_db(
    session: Session, start: datetime, end: datetime, totals: dict[int, Totals]
) -> None:
    """Closed state intervals clipped to [start, end), with the same rule as
    metrics.state_intervals (a row lasts until the agent's next row)."""
    rows = session.execute(
        select(
            AgentStateChange.agent_id,
            AgentStateChange.campaign_id,
            AgentStateChange.to_state,
            AgentStateChange.at,
        )
        .where(AgentStateChange.at < end)
        .order_by(AgentStateChange.agent_id, AgentStateChange.at, AgentStateChange.id)
    ).all()
    for current, following in pairwise(rows):
        if current.agent_id != following.agent_id or current.campaign_id is None:
            continue
        begin, finish = max(current.at, start), min(following.at, end)
        if begin < finish:
            name = STATE_SECONDS[AgentState(current.to_state)]
            target = totals.setdefault(current.campaign_id, {})
            target[name] = target.get(name, 0.0) + (finish - begin).total_seconds()


def live_maps_from_db(
    session: Session, day: date, *, tz: ZoneInfo | str = "Asia/Tehran"
) -> tuple[dict[str, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Calls in progress and each agent's state, as the counters keep them."""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    calls: dict[str, dict[str, Any]] = {}
    open_calls = (
        select(Call, Customer.title, Customer.first_name, Customer.last_name)
        .join(Customer, Customer.id == Call.customer_id)
        .where(Call.state != CallState.ENDED)
    )
    for call, title, first, last in session.execute(open_calls):
        calls[call.id] = {
            "call_id": call.id,
            "campaign_id": call.campaign_id,
            "lead_id": call.lead_id,
            "day": call.dialed_at.astimezone(zone).date().isoformat(),
            "state": str(call.state),
            "dialed_at": call.dialed_at.isoformat(),
            "ringing_at": to_iso(call.ringing_at),
            "answered_at": to_iso(call.answered_at),
            "connected_at": to_iso(call.connected_at),
            "agent_id": call.agent_id,
            "customer": full_name(title, first, last),
            "step": call.current_step,
            "in_sl": in_service_level(call),
            "amd_result": str(call.amd_result) if call.amd_result is not None else None,
            "amd_decision_ms": call.amd_decision_ms,
            "inbound": call.direction == CallDirection.INBOUND,
        }
    agents: dict[int, dict[str, Any]] = {}
    for status in session.scalars(select(AgentStatus)):
        entry: dict[str, Any] = {
            "state": str(status.state),
            "since": status.since.isoformat(),
            "campaign_id": status.campaign_id,
            "reason": status.pause_reason,
            "call_id": status.current_call_id,
        }
        agents[status.agent_id] = entry
    return calls, agents


def in_service_level(call: Call | CallMarkedMachine) -> bool:
    if call.answered_at is None or call.connected_at is None:
        return False
    return (call.connected_at - call.answered_at).total_seconds() <= metrics.SERVICE_LEVEL_SECONDS
