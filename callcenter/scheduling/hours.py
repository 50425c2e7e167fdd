"""Working hours of the people a meeting is booked with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time
from itertools import pairwise

# date.weekday() numbers by the short English day names used in settings.
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


@dataclass(frozen=True, order=True)
class Window:
    """One stretch of working time within a day, wall clock, end exclusive."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError(f"working window {self} ends before it starts")

    @classmethod
    def parse(cls, text: str) -> Window:
        """'09:00-17:00'."""
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a window like '09:00-17:00'") from exc
        return cls(start, end)


@dataclass(frozen=True)
class WorkingHours:
    """Windows per weekday (indexed by `date.weekday()`) and the hour that
    splits a day into the morning and afternoon half-days."""

    days: tuple[tuple[Window, ...], ...]
    midday: time = time(12, 0)

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError("working hours need an entry for each of the 7 weekdays")
        for windows in self.days:
            for before, after in pairwise(windows):
                if before.end > after.start:
                    raise ValueError(f"working windows {before} and {after} overlap")

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Iterable[str]], *, midday: str | time = time(12, 0)
    ) -> WorkingHours:
        """{'sat': ['09:00-17:00'], 'thu': ['09:00-13:00']}; days left out are off."""
        days: list[list[Window]] = [[] for _ in range(7)]
        for name, windows in mapping.items():
            if name.lower() not in WEEKDAYS:
                raise ValueError(f"unknown weekday {name!r}; use one of {sorted(WEEKDAYS)}")
            days[WEEKDAYS[name.lower()]] = sorted(Window.parse(text) for text in windows)
        if isinstance(midday, str):
            midday = time.fromisoformat(midday)
        return cls(tuple(tuple(windows) for windows in days), midday)

    def windows_on(self, day: date) -> tuple[Window, ...]:
        return self.days[day.weekday()]


DEFAULT_WORKING_HOURS = WorkingHours.from_mapping(
    {
        "sat": ["09:00-17:00"],
        "sun": ["09:00-17:00"],
        "mon": ["09:00-17:00"],
        "tue": ["09:00-17:00"],
        "wed": ["09:00-17:00"],
        "thu": ["09:00-13:00"],
    }
)
