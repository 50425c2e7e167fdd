"""When a lead may be called: weekly local-time windows plus holidays, judged
in the lead's own time zone. Pure; campaigns keep the config as a JSON dict.

Semantics, including daylight-saving edges:

- An instant is callable when its wall-clock time in the lead's zone falls in
  one of the windows of that local date's weekday (start inclusive, end
  exclusive) and that local date is not a holiday. Nothing else.
- A boundary inside a skipped hour (spring forward, 02:00-03:00 in New York)
  therefore takes effect at the jump: a window starting at 02:30 opens at
  03:00 local, one ending at 02:30 closes at 02:00 local (the last wall time
  before the gap).
- A boundary inside a repeated hour (fall back) is crossed twice: a window
  ending at 01:30 is open during both passes of 01:00-01:30 and closed during
  both passes of 01:30-02:00, so that day has two separate open stretches.
- Iran has not observed DST since 2022; Asia/Tehran follows the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcenter.errors import N_, InvalidInput

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_MINUTES = 24 * 60
FORMAT_VERSION = 1
# Far enough for a year of holidays; beyond it the config is treated as closed.
_SEARCH_DAYS = 800
# How far ahead window_closes_at looks: the dialer's offers and the agent's
# screen ask again long before.
CLOSE_HORIZON = timedelta(days=7)


class WindowProblem(ValueError):
    """One thing wrong in calling windows: the text marked for translation and
    its values kept apart, so the reader sees it in their language (`shown`);
    str() is the English, for logs and API details."""

    def __init__(self, message: str, /, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.text = message
        self.params = params

    def shown(self) -> str:
        params: dict[str, Any] = {
            name: value.shown() if isinstance(value, WindowProblem) else value
            for name, value in self.params.items()
        }
        return InvalidInput(self.text, **params).shown()


class CallingWindowsError(InvalidInput):
    error_id = "calling-windows-invalid"
    problems: tuple[WindowProblem, ...] = ()

    @classmethod
    def listing(cls, problems: Sequence[WindowProblem]) -> CallingWindowsError:
        error = cls(
            N_("invalid calling windows: %(problems)s"),
            details={"errors": [str(problem) for problem in problems]},
            problems="; ".join(str(problem) for problem in problems),
        )
        error.problems = tuple(problems)
        return error

    def shown_problems(self) -> str:
        """Every problem in the reader's language."""
        from flask_babel import get_locale

        locale = get_locale()
        separator = "؛ " if locale is not None and locale.language == "fa" else "; "
        return separator.join(problem.shown() for problem in self.problems)

    def shown(self) -> str:
        if not self.problems:
            return super().shown()
        return InvalidInput(self.text, problems=self.shown_problems()).shown()


@dataclass(frozen=True, order=True, slots=True)
class Window:
    """[start, end) in local minutes after midnight; end may be 1440 (24:00)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= DAY_MINUTES:
            raise WindowProblem(
                N_(
                    "the start must be before the end, at most 24:00 "
                    "(split a window past midnight into two days)"
                )
            )

    @classmethod
    def of(cls, start: str, end: str) -> Window:
        return cls(_parse_clock(start, allow_24=False), _parse_clock(end, allow_24=True))

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


@dataclass(frozen=True, slots=True)
class CallingWindows:
    """Windows per weekday (index = date.weekday(), Monday 0) and days off."""

    weekly: tuple[tuple[Window, ...], ...]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise ValueError("weekly needs exactly 7 days, Monday first")
        object.__setattr__(self, "weekly", tuple(_merge(day) for day in self.weekly))

    @classmethod
    def iran_default(cls, holidays: Sequence[date] = ()) -> CallingWindows:
        """09:00-21:00 Saturday-Wednesday, 09:00-13:00 Thursday, Friday off."""
        full, half = (Window.of("09:00", "21:00"),), (Window.of("09:00", "13:00"),)
        #            Mon   Tue   Wed   Thu   Fri Sat   Sun
        return cls((full, full, full, half, (), full, full), frozenset(holidays))

    @property
    def is_never_open(self) -> bool:
        return not any(self.weekly)

    def windows_on(self, day: date) -> tuple[Window, ...]:
        return () if day in self.holidays else self.weekly[day.weekday()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "weekly": {
                WEEKDAYS[i]: [{"start": _clock(w.start), "end": _clock(w.end)} for w in day]
                for i, day in enumerate(self.weekly)
            },
            "holidays": sorted(day.isoformat() for day in self.holidays),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CallingWindows:
        """Inverse of to_dict. An empty dict (a new campaign's column) is the
        Iran default. A "weekly" must name all seven days ([] for a day off);
        a window is {"start": "09:00", "end": "21:00"} or ["09:00", "21:00"];
        overlapping windows are merged. Raises CallingWindowsError listing
        every problem."""
        if not data:
            return cls.iran_default()
        if not isinstance(data, Mapping):
            raise CallingWindowsError(N_("calling windows must be an object"))
        errors: list[WindowProblem] = []
        unknown = set(data) - {"version", "weekly", "holidays"}
        if unknown:
            keys = ", ".join(sorted(map(str, unknown)))
            errors.append(WindowProblem(N_("unknown keys: %(keys)s"), keys=keys))
        if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            errors.append(
                WindowProblem(
                    N_("version: expected %(expected)s, got %(got)s"),
                    expected=FORMAT_VERSION,
                    got=repr(data.get("version")),
                )
            )
        weekly = (
            _read_weekly(data["weekly"], errors) if "weekly" in data else cls.iran_default().weekly
        )
        holidays = _read_holidays(data.get("holidays", []), errors)
        if errors:
            raise CallingWindowsError.listing(errors)
        return cls(weekly, holidays)


def is_callable(at_utc: datetime, lead_tz: str | tzinfo, windows: CallingWindows) -> bool:
    """Whether the lead may be called at this instant (see the module doc)."""
    local = _aware(at_utc).astimezone(_zone(lead_tz))
    since_midnight = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = since_midnight.total_seconds() / 60  # wall-clock, even across a DST change
    return any(w.start <= minutes < w.end for w in windows.windows_on(local.date()))


def next_open(at_utc: datetime, lead_tz: str | tzinfo, windows: CallingWindows) -> datetime | None:
    """The first callable instant at or after `at_utc` (itself when already
    callable), in UTC; None when no window opens within about two years."""
    at = _aware(at_utc).astimezone(UTC)
    for start, end in _open_intervals(at, _zone(lead_tz), windows):
        if end > at:
            return max(start, at)
    return None


def window_closes_at(
    at_utc: datetime,
    lead_tz: str | tzinfo,
    windows: CallingWindows,
    *,
    horizon: timedelta = CLOSE_HORIZON,
) -> datetime | None:
    """When the open stretch containing `at_utc` ends (UTC), following a
    window that runs to 24:00 into one that starts at 00:00; None when not
    callable now. A stretch still open `horizon` after `at_utc` is said to
    end then: windows open around the clock would otherwise be followed day
    by day to the end of the search (800 days, for every agent's state
    change)."""
    at = _aware(at_utc).astimezone(UTC)
    closes: datetime | None = None
    for start, end in _open_intervals(at, _zone(lead_tz), windows):
        if closes is None:
            if start <= at < end:
                closes = end
            elif start > at:
                return None
        elif start <= closes:
            closes = max(closes, end)
        else:
            break
        if closes is not None and closes >= at + horizon:
            return at + horizon
    return closes


def _open_intervals(
    at: datetime, zone: tzinfo, windows: CallingWindows
) -> Iterator[tuple[datetime, datetime]]:
    """Open stretches as UTC [start, end), in order, from the local day before
    `at` onwards. Each local window maps through the zone's offset on either
    side of at most one transition near it (see _utc_preimage)."""
    if windows.is_never_open:
        return
    day = at.astimezone(zone).date() - timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        current = day + timedelta(days=offset)
        midnight = datetime.combine(current, time(0))
        pieces = []
        for window in windows.windows_on(current):
            start = midnight + timedelta(minutes=window.start)
            end = midnight + timedelta(minutes=window.end)
            pieces.extend(_utc_preimage(start, end, zone))
        yield from sorted(pieces)


def _utc_preimage(start: datetime, end: datetime, zone: tzinfo) -> list[tuple[datetime, datetime]]:
    """UTC instants whose local wall time is in naive [start, end)."""
    lo = start.replace(tzinfo=UTC) - timedelta(days=1)
    hi = end.replace(tzinfo=UTC) + timedelta(days=1)
    before, after = _offset(zone, lo), _offset(zone, hi)
    if before == after:
        return [((start - before).replace(tzinfo=UTC), (end - before).replace(tzinfo=UTC))]
    transition = _find_transition(zone, lo, hi, before)
    pieces = []
    for offset, low, high in ((before, None, transition), (after, transition, None)):
        a = (start - offset).replace(tzinfo=UTC)
        b = (end - offset).replace(tzinfo=UTC)
        a = max(a, low) if low else a
        b = min(b, high) if high else b
        if a < b:
            pieces.append((a, b))
    return pieces


def _offset(zone: tzinfo, at: datetime) -> timedelta:
    return at.astimezone(zone).utcoffset() or timedelta(0)


def _find_transition(zone: tzinfo, lo: datetime, hi: datetime, before: timedelta) -> datetime:
    """First instant in (lo, hi] whose offset differs from `before`, to the second."""
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            mid = lo + timedelta(seconds=1)
        if _offset(zone, mid) == before:
            lo = mid
        else:
            hi = mid
    return hi


def _zone(lead_tz: str | tzinfo) -> tzinfo:
    if not isinstance(lead_tz, str):
        return lead_tz
    try:
        return ZoneInfo(lead_tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {lead_tz!r}") from None


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at_utc must be timezone-aware")
    return at


def _merge(day: Sequence[Window]) -> tuple[Window, ...]:
    merged: list[Window] = []
    for window in sorted(day):
        if merged and window.start <= merged[-1].end:
            merged[-1] = Window(merged[-1].start, max(merged[-1].end, window.end))
        else:
            merged.append(window)
    return tuple(merged)


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def _parse_clock(text: str, *, allow_24: bool) -> int:
    match = _CLOCK.match(text) if isinstance(text, str) else None
    if not match:
        raise WindowProblem(N_("'%(text)s' is not a time like 09:00"), text=str(text))
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        if allow_24:
            raise WindowProblem(N_("'%(text)s' is not a time between 00:00 and 24:00"), text=text)
        raise WindowProblem(N_("'%(text)s' is not a time between 00:00 and 23:59"), text=text)
    return hours * 60 + minutes


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _read_weekly(data: Any, errors: list[WindowProblem]) -> tuple[tuple[Window, ...], ...]:
    if not isinstance(data, Mapping):
        errors.append(WindowProblem(N_("weekly: must be an object of weekday -> list of windows")))
        return ((),) * 7
    unknown = [str(key) for key in data if key not in WEEKDAYS]
    if unknown:
        errors.append(
            WindowProblem(
                N_("weekly: unknown weekday(s) %(days)s; use %(known)s"),
                days=", ".join(unknown),
                known=", ".join(WEEKDAYS),
            )
        )
    days: list[tuple[Window, ...]] = []
    for name in WEEKDAYS:
        if name not in data:
            errors.append(
                WindowProblem(N_("weekly.%(day)s: missing (use [] for a day off)"), day=name)
            )
            days.append(())
            continue
        if not isinstance(data[name], list):
            errors.append(WindowProblem(N_("weekly.%(day)s: must be a list of windows"), day=name))
            days.append(())
            continue
        days.append(tuple(_read_windows(name, data[name], errors)))
    return tuple(days)


def _read_windows(name: str, items: list[Any], errors: list[WindowProblem]) -> Iterator[Window]:
    for index, item in enumerate(items):
        where = f"weekly.{name}[{index}]"
        if isinstance(item, Mapping) and set(item) == {"start", "end"}:
            start, end = item["start"], item["end"]
        elif isinstance(item, list | tuple) and len(item) == 2:
            start, end = item
        else:
            errors.append(
                WindowProblem(
                    N_('%(where)s: expected {"start": "HH:MM", "end": "HH:MM"}'), where=where
                )
            )
            continue
        try:
            first = _parse_clock(start, allow_24=False)
            last = _parse_clock(end, allow_24=True)
        except WindowProblem as exc:
            errors.append(WindowProblem(N_("%(where)s: %(problem)s"), where=where, problem=exc))
            continue
        if first >= last:
            errors.append(
                WindowProblem(
                    N_(
                        "%(where)s: start %(start)s is not before end %(end)s "
                        "(split a window past midnight into two days)"
                    ),
                    where=where,
                    start=start,
                    end=end,
                )
            )
            continue
        yield Window(first, last)


def _read_holidays(items: Any, errors: list[WindowProblem]) -> frozenset[date]:
    if not isinstance(items, list):
        errors.append(WindowProblem(N_("holidays: must be a list of dates like 2025-03-21")))
        return frozenset()
    days: set[date] = set()
    for index, item in enumerate(items):
        try:
            days.add(date.fromisoformat(item))
        except (TypeError, ValueError):
            errors.append(
                WindowProblem(
                    N_("%(where)s: %(item)s is not a date like 2025-03-21"),
                    where=f"holidays[{index}]",
                    item=repr(item),
                )
            )
    return frozenset(days)
