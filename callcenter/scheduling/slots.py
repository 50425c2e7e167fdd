"""Free meeting slots, and the two the agent offers ("alternative choice").

All instants are aware datetimes; busy intervals may be in any zone. Slots
are laid on a wall-clock grid from the start of each working window in the
meeting's time zone, and returned in that zone.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from callcenter.dates import DEFAULT_TZ
from callcenter.scheduling.hours import DEFAULT_WORKING_HOURS, WorkingHours


class Slot(NamedTuple):
    """A meeting time, end exclusive. A plain (start, end) pair is accepted
    wherever a busy interval is expected."""

    start: datetime
    end: datetime


class OpenSlot(NamedTuple):
    """A meeting time free in at least one of several calendars."""

    start: datetime
    end: datetime
    free_for: tuple[int, ...]  # the calendars' owners, in the order given


AnySlot = TypeVar("AnySlot", Slot, OpenSlot)


class NoFreeSlotsError(LookupError):
    """Not enough free slots within the horizon."""


@dataclass(frozen=True)
class SlotRules:
    """How slots are laid out; the defaults follow the sales team's policy."""

    working_hours: WorkingHours = DEFAULT_WORKING_HOURS
    holidays: frozenset[date] = field(default_factory=frozenset)
    duration: timedelta = timedelta(hours=1)
    lead_time: timedelta = timedelta(hours=2)
    granularity: timedelta = timedelta(minutes=30)
    horizon_days: int = 14
    tz: ZoneInfo = DEFAULT_TZ

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0) or self.granularity <= timedelta(0):
            raise ValueError("duration and granularity must be positive")
        if self.lead_time < timedelta(0) or self.horizon_days < 1:
            raise ValueError("lead time cannot be negative and the horizon is at least a day")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}; pass an aware datetime")
    return value.astimezone(UTC)


class _Busy:
    """Busy intervals merged and sorted, for overlap look-ups."""

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]]) -> None:
        merged: list[list[datetime]] = []
        for start, end in sorted((_utc(s), _utc(e)) for s, e in intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [start for start, _ in merged]
        self._ends = [end for _, end in merged]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.overlaps_utc(_utc(start), _utc(end))

    def overlaps_utc(self, start: datetime, end: datetime) -> bool:
        index = bisect_right(self._starts, start) - 1
        if index >= 0 and self._ends[index] > start:
            return True
        following = index + 1
        return following < len(self._starts) and self._starts[following] < end


def _candidates(now: datetime, busy: _Busy, rules: SlotRules) -> Iterator[Slot]:
    earliest = _utc(now) + rules.lead_time
    today = now.astimezone(rules.tz).date()
    for offset in range(rules.horizon_days):
        day = today + timedelta(days=offset)
        if day in rules.holidays:
            continue
        for window in rules.working_hours.windows_on(day):
            start = datetime.combine(day, window.start, tzinfo=rules.tz)
            window_end = datetime.combine(day, window.end, tzinfo=rules.tz)
            while start + rules.duration <= window_end:
                end = start + rules.duration
                if _utc(start) >= earliest and not busy.overlaps(start, end):
                    yield Slot(start, end)
                start += rules.granularity


def _open_candidates(
    now: datetime,
    busy_by_owner: Mapping[int, Iterable[tuple[datetime, datetime]]],
    rules: SlotRules,
) -> Iterator[OpenSlot]:
    calendars = [(owner, _Busy(busy)) for owner, busy in busy_by_owner.items()]
    for slot in _candidates(now, _Busy(()), rules):
        start, end = _utc(slot.start), _utc(slot.end)
        free_for = tuple(owner for owner, busy in calendars if not busy.overlaps_utc(start, end))
        if free_for:
            yield OpenSlot(slot.start, slot.end, free_for)


def free_slots(
    now: datetime,
    busy: Iterable[tuple[datetime, datetime]] = (),
    rules: SlotRules | None = None,
    *,
    limit: int = 20,
) -> list[Slot]:
    """Up to `limit` free slots from `now` on, earliest first."""
    rules = rules or SlotRules()
    slots: list[Slot] = []
    for slot in _candidates(now, _Busy(busy), rules):
        if len(slots) >= limit:
            break
        slots.append(slot)
    return slots


def free_slots_across(
    now: datetime,
    busy_by_owner: Mapping[int, Iterable[tuple[datetime, datetime]]],
    rules: SlotRules | None = None,
    *,
    limit: int = 20,
) -> list[OpenSlot]:
    """Up to `limit` times free in at least one of the calendars, earliest
    first, each with whose calendars are free then."""
    rules = rules or SlotRules()
    slots: list[OpenSlot] = []
    for slot in _open_candidates(now, busy_by_owner, rules):
        if len(slots) >= limit:
            break
        slots.append(slot)
    return slots


def half_day(slot: Slot | OpenSlot, rules: SlotRules | None = None) -> tuple[date, str]:
    """(local date, 'morning' | 'afternoon') of the slot's start."""
    rules = rules or SlotRules()
    local = slot.start.astimezone(rules.tz)
    part = "morning" if local.time() < rules.working_hours.midday else "afternoon"
    return local.date(), part


def propose_slots(
    now: datetime,
    busy: Iterable[tuple[datetime, datetime]] = (),
    rules: SlotRules | None = None,
) -> tuple[Slot, Slot]:
    """The two slots the agent offers: the earliest free one, and the earliest
    free one on another half-day that does not overlap it (e.g. today at
    14:00 or tomorrow at 09:00), so the prospect picks between two clear
    choices instead of answering an open question."""
    rules = rules or SlotRules()
    return _two_choices(_candidates(now, _Busy(busy), rules), rules, now)


def propose_slots_across(
    now: datetime,
    busy_by_owner: Mapping[int, Iterable[tuple[datetime, datetime]]],
    rules: SlotRules | None = None,
) -> tuple[OpenSlot, OpenSlot]:
    """`propose_slots` over several calendars (a team of salespeople): each
    slot is free in at least one of them."""
    rules = rules or SlotRules()
    return _two_choices(_open_candidates(now, busy_by_owner, rules), rules, now)


def _two_choices(
    candidates: Iterable[AnySlot], rules: SlotRules, now: datetime
) -> tuple[AnySlot, AnySlot]:
    first: AnySlot | None = None
    for slot in candidates:
        if first is None:
            first = slot
        elif half_day(slot, rules) != half_day(first, rules) and slot.start >= first.end:
            return first, slot
    found = "one free slot" if first else "no free slot"
    raise NoFreeSlotsError(
        f"{found} on two half-days within {rules.horizon_days} days of {now.isoformat()}"
    )
