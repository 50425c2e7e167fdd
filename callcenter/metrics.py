"""One definition of each metric, as SQL expressions over the rows.

docs/data-model.md says what the rows mean; this module turns each metric
there into one SQLAlchemy expression, so the reports and the live floor count
the same thing the same way, on SQLite and on PostgreSQL.

Call predicates (`LIVE_ANSWER`, `CONTACT`, ...) are boolean columns over
`calls`; wrap them in `count_if` inside a select. Durations are seconds
(`seconds_between`). Local dates and hours go through `LocalClock`, which
groups in one zone (Asia/Tehran unless told) on both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    Integer,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from callcenter.models import (
    Appointment,
    AppointmentStatus,
    Call,
    Disposition,
    StepAction,
    StepOutcome,
)
from callcenter.states import (
    HELD_STATUSES,
    AgentState,
    CallDirection,
    CallOutcome,
    DispositionCategory,
)

# The built-in script has nine steps; reports show at least these.
SCRIPT_STEPS = 9
# A live answer connected within this many seconds counts for the service level.
SERVICE_LEVEL_SECONDS = 2.0


# --- portable building blocks -------------------------------------------------------------


class seconds_between(FunctionElement[float]):
    """Seconds from the first datetime to the second (NULL if either is NULL)."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between_default(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"ROUND((julianday({compiler.process(end, **kw)}) - "
        f"julianday({compiler.process(start, **kw)})) * 86400.0, 3)"
    )


class epoch_minute(FunctionElement[int]):
    """Whole minutes from 1970-01-01 UTC to a UTC datetime column."""

    type = BigInteger()
    name = "epoch_minute"
    inherit_cache = True


@compiles(epoch_minute)
def _epoch_minute_default(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = list(element.clauses)
    # Truncated before the epoch is taken: a double's epoch rounds microseconds.
    at = f"date_trunc('minute', {compiler.process(column, **kw)} AT TIME ZONE 'UTC')"
    return f"(CAST(EXTRACT(EPOCH FROM {at}) AS BIGINT) / 60)"


@compiles(epoch_minute, "sqlite")
def _epoch_minute_sqlite(element: Any, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = list(element.clauses)
    # 'YYYY-MM-DD HH:MM' of the stored text: SQLite's date functions round to
    # the millisecond, which would put 59.9999995 s in the next minute.
    minute = f"substr({compiler.process(column, **kw)}, 1, 16)"
    return f"(CAST(strftime('%s', {minute}) AS INTEGER) / 60)"


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows satisfy `condition` (0, not NULL, on an empty group)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def sum_of(value: ColumnElement[Any]) -> ColumnElement[float]:
    return func.coalesce(func.sum(value), 0.0)


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when nothing was there to divide by."""
    return numerator / denominator if denominator else None


# --- calls ---------------------------------------------------------------------------------

# Outbound calls are the dialer's (and agents') dials; inbound calls are
# customers ringing a campaign's number back. The outbound metrics (dials,
# live answers, contacts, abandons and the rates between them) count outbound
# calls only; inbound calls have their own counts.
OUTBOUND = Call.direction == CallDirection.OUTBOUND
INBOUND = Call.direction == CallDirection.INBOUND
# Dials: every outbound calls row.
DIALS = count_if(OUTBOUND)
# An answering machine: caught by detection, or marked so by the agent it reached.
MACHINE = Call.outcome == CallOutcome.MACHINE
# Handled: an agent took the call, whoever was on the line, either way (the base of AHT).
HANDLED = Call.connected_at.is_not(None)
# A person (not a machine) was on the line and an agent talked to them, on a
# call of either direction: a lead that has been talked to.
TALKED = and_(
    Call.answered_at.is_not(None),
    or_(Call.outcome.is_(None), Call.outcome != CallOutcome.MACHINE),
    HANDLED,
)
# A person or a machine picked up a dial, and it was not a machine. A call
# still being classified (no outcome yet) counts as live, as the dialer treats it.
LIVE_ANSWER = and_(
    OUTBOUND,
    Call.answered_at.is_not(None),
    or_(Call.outcome.is_(None), Call.outcome != CallOutcome.MACHINE),
)
# A contact: an agent talked to a person, i.e. a live answer an agent took.
# The one definition every report and the live floor count, so contacts
# never exceed live answers: a machine that reached an agent is handled,
# never a contact.
CONTACT = and_(LIVE_ANSWER, HANDLED)
# A live answer no agent took in time (the compliance abandon rate's numerator).
ABANDONED = and_(OUTBOUND, Call.outcome == CallOutcome.ABANDONED)
# A customer's call to a campaign's number that an agent took.
INBOUND_ANSWERED = and_(INBOUND, HANDLED)
# A customer's call nobody took within the campaign's inbound wait (a callback was booked).
INBOUND_MISSED = and_(INBOUND, Call.outcome == CallOutcome.ABANDONED)

TALK_SECONDS = seconds_between(Call.connected_at, Call.ended_at)
WRAP_UP_SECONDS = seconds_between(Call.ended_at, Call.wrap_up_ended_at)
# From a dial's answer to its agent (NULL for a customer's own call: not a dial).
CONNECT_WAIT_SECONDS = case((OUTBOUND, seconds_between(Call.answered_at, Call.connected_at)))
CONNECTED_IN_SERVICE_LEVEL = and_(CONTACT, CONNECT_WAIT_SECONDS <= SERVICE_LEVEL_SECONDS)


def reached_step(step: int) -> ColumnElement[bool]:
    """A contact reached step N when its furthest step is N or beyond (a
    machine an agent clicked through reached nothing)."""
    return and_(CONTACT, Call.max_step_reached >= step)


# Appointment set on the call (whatever became of it later).
APPOINTMENT_SET = exists().where(Appointment.call_id == Call.id)
APPOINTMENT_HELD = exists().where(
    Appointment.call_id == Call.id,
    Appointment.status.in_(HELD_STATUSES),
)
# A sale: the meeting booked on the call was sold, or the agent sold on the call.
SALE = or_(
    exists().where(Appointment.call_id == Call.id, Appointment.status == AppointmentStatus.SOLD),
    exists().where(
        Disposition.call_id == Call.id, Disposition.category == DispositionCategory.SALE
    ),
)


class CallResults:
    """APPOINTMENT_SET, APPOINTMENT_HELD and SALE as columns of two outer joins
    (each call's appointments summed up once, and its disposition) instead of
    an EXISTS per call: the same counts, one pass over the calls. Build the
    query with `joined(select(...).select_from(Call))`."""

    def __init__(self) -> None:
        self.appointments = (
            select(
                Appointment.call_id.label("call_id"),
                func.max(case((Appointment.status.in_(HELD_STATUSES), 1), else_=0)).label("held"),
                func.max(case((Appointment.status == AppointmentStatus.SOLD, 1), else_=0)).label(
                    "sold"
                ),
            )
            .where(Appointment.call_id.is_not(None))
            .group_by(Appointment.call_id)
            .subquery("call_appointments")
        )
        # Only a sale's disposition matters: the join hashes those, not them all.
        self.sale_disposition = (
            select(Disposition.call_id)
            .where(Disposition.category == DispositionCategory.SALE)
            .subquery("sale_disposition")
        )
        self.appointment_set = self.appointments.c.call_id.is_not(None)
        self.appointment_held = self.appointments.c.held == 1
        self.sale = or_(self.appointments.c.sold == 1, self.sale_disposition.c.call_id.is_not(None))

    def joined(self, query: Any) -> Any:
        return query.outerjoin(self.appointments, self.appointments.c.call_id == Call.id).outerjoin(
            self.sale_disposition, self.sale_disposition.c.call_id == Call.id
        )


# The step and reason where the prospect said no (at most one per call).
REJECTION = StepOutcome.action == StepAction.REJECT


def rejection_of_call() -> Any:
    """A subquery of the reject row of each call: call_id, step_number, reason_code."""
    return (
        select(
            StepOutcome.call_id,
            StepOutcome.step_number,
            StepOutcome.reason_code,
            StepOutcome.reason_text,
        )
        .where(REJECTION)
        .subquery("rejection")
    )


@dataclass(frozen=True)
class CallCounts:
    """The headline counts of a set of calls, with the rates built from them."""

    dials: int = 0
    live_answers: int = 0
    contacts: int = 0
    abandoned: int = 0
    appointments: int = 0
    sales: int = 0
    machines: int = 0
    handled: int = 0
    inbound: int = 0
    inbound_answered: int = 0

    @property
    def contact_rate(self) -> float | None:
        return ratio(self.live_answers, self.dials)

    @property
    def abandon_rate(self) -> float | None:
        return ratio(self.abandoned, self.live_answers)

    @property
    def conversion_rate(self) -> float | None:
        return ratio(self.appointments, self.contacts)


# Columns in CallCounts order, for `select(*CALL_COUNT_COLUMNS).where(...)`.
CALL_COUNT_COLUMNS = (
    DIALS.label("dials"),
    count_if(LIVE_ANSWER).label("live_answers"),
    count_if(CONTACT).label("contacts"),
    count_if(ABANDONED).label("abandoned"),
    count_if(APPOINTMENT_SET).label("appointments"),
    count_if(SALE).label("sales"),
    count_if(MACHINE).label("machines"),
    count_if(HANDLED).label("handled"),
    count_if(INBOUND).label("inbound"),
    count_if(INBOUND_ANSWERED).label("inbound_answered"),
)


def call_counts(row: Any) -> CallCounts:
    return CallCounts(*(int(value or 0) for value in row[: len(CALL_COUNT_COLUMNS)]))


# --- agents --------------------------------------------------------------------------------

TALK_STATES = (AgentState.ON_CALL,)
WRAP_UP_STATES = (AgentState.WRAP_UP,)
IDLE_STATES = (AgentState.READY,)


def occupancy(talk: float, wrap_up: float, ready_idle: float) -> float | None:
    """(talk + wrap-up) / (talk + wrap-up + ready idle); pause (and reserved) excluded."""
    return ratio(talk + wrap_up, talk + wrap_up + ready_idle)


def average_handle_time(talk: float, wrap_up: float, handled: int) -> float | None:
    """AHT = (talk + wrap-up) / handled calls, from the calls' own timestamps."""
    return ratio(talk + wrap_up, handled)


def state_intervals(
    table: Any, start: datetime | None, end: datetime, *, partition: Any, order: Any
) -> Any:
    """Each state row with the instant it ended (the agent's next row, or `end`),
    clipped to [start, end): a subquery with the row's columns plus `seconds`.

    `table` is AgentStateChange (or an aliased select of it)."""
    next_at = func.lead(table.at).over(partition_by=partition, order_by=order)
    rows = select(table, next_at.label("next_at")).where(table.at < end).subquery("intervals")
    until = func.coalesce(rows.c.next_at, end)
    clipped_end = case((until > end, end), else_=until)
    clipped_start = (
        rows.c.at if start is None else case((rows.c.at < start, start), else_=rows.c.at)
    )
    seconds = seconds_between(clipped_start, clipped_end)
    query = select(rows, seconds.label("seconds"))
    if start is not None:
        query = query.where(until > start)
    return query.subquery("state_time")


# --- local time ----------------------------------------------------------------------------


class LocalClock:
    """Local datetime, date, hour and weekday of a UTC column in one zone.

    PostgreSQL converts with the zone database (`AT TIME ZONE`). SQLite knows
    no zones, so the UTC offset is chosen by a CASE over the zone's transitions
    in [span_start, span_end] (computed here from zoneinfo): correct across
    DST and Iran's pre-2022 summer time, and cheap for recent rows, which
    match the first branch."""

    def __init__(
        self,
        dialect: str,
        tz: str = "Asia/Tehran",
        span: tuple[datetime | None, datetime | None] = (None, None),
    ) -> None:
        self.dialect = dialect
        self.tz = tz
        start, end = span
        self._span = (
            start or datetime(2000, 1, 1, tzinfo=UTC),
            end or datetime.now(UTC) + timedelta(days=400),
        )

    def local(self, column: Any) -> Any:
        if self.dialect != "sqlite":
            return func.timezone(literal(self.tz), column)
        return self.strftime("%Y-%m-%d %H:%M:%S", column)

    def strftime(self, format_: str, column: Any, type_: Any = None) -> Any:
        """SQLite: `format_` of the local wall clock, shifted and formatted by
        one strftime() per row (strftime(datetime(...)) parses the text twice)."""
        offsets = _offsets(self.tz, *(_day(value) for value in self._span))
        branches = [
            (column >= since, func.strftime(format_, column, _modifier(offset), type_=type_))
            for since, offset in reversed(offsets[1:])
        ]
        first = func.strftime(format_, column, _modifier(offsets[0][1]), type_=type_)
        return case(*branches, else_=first) if branches else first

    def date(self, column: Any) -> Any:
        if self.dialect == "sqlite":
            return self.strftime("%Y-%m-%d", column, Date)
        return cast(self.local(column), Date)

    def hour(self, column: Any) -> Any:
        if self.dialect == "sqlite":
            return cast(self.strftime("%H", column), Integer)
        return cast(func.extract("hour", self.local(column)), Integer)

    def weekday(self, column: Any) -> Any:
        """Monday 0 ... Sunday 6, as Python's date.weekday()."""
        if self.dialect == "sqlite":
            return (cast(self.strftime("%w", column), Integer) + 6) % 7
        return cast(func.extract("isodow", self.local(column)), Integer) - 1


def _day(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _modifier(offset: timedelta) -> str:
    return f"{int(offset.total_seconds()):+d} seconds"


@lru_cache(maxsize=64)
def _offsets(tz: str, start: datetime, end: datetime) -> list[tuple[datetime, timedelta]]:
    """[(since, utc offset)] for `tz` over [start, end], first entry at `start`."""
    zone = ZoneInfo(tz)
    found = [(start, _offset_at(zone, start))]
    for day in _days(start, end + timedelta(days=1)):
        after = _offset_at(zone, day + timedelta(days=1))
        if after != _offset_at(zone, day):
            found.append((_transition(zone, day, day + timedelta(days=1)), after))
    return found


def _days(start: datetime, end: datetime) -> Iterator[datetime]:
    while start < end:
        yield start
        start += timedelta(days=1)


def _offset_at(zone: ZoneInfo, at: datetime) -> timedelta:
    return at.astimezone(zone).utcoffset() or timedelta(0)


def _transition(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first second in (low, high] with the offset of `high`."""
    before = _offset_at(zone, low)
    while high - low > timedelta(seconds=1):
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if _offset_at(zone, middle) == before:
            low = middle
        else:
            high = middle
    return high
