"""The time-of-day greeting of step 1, in the customer's time zone."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

# Asia/Tehran, the product's default; kept here so the engine imports
# nothing from the web application.
DEFAULT_TZ = ZoneInfo("Asia/Tehran")

# (from, period) in order; hours before the first entry belong to the last.
DAY_PERIODS = ((time(5), "morning"), (time(12), "afternoon"), (time(17), "evening"))

# Persian splits the afternoon: noon (ظهر) until 15:00, then late afternoon
# (عصر); after dark the neutral "وقت بخیر" is used, since "شب بخیر" is a
# good-night said when parting.
GREETINGS: dict[str, tuple[tuple[time, str], ...]] = {
    "en": ((time(5), "Good morning"), (time(12), "Good afternoon"), (time(17), "Good evening")),
    "fa": (
        (time(5), "صبح بخیر"),
        (time(12), "ظهر بخیر"),
        (time(15), "عصر بخیر"),
        (time(19), "وقت بخیر"),
    ),
}


def _pick(table: tuple[tuple[time, str], ...], at: time) -> str:
    chosen = table[-1][1]
    for start, value in table:
        if at >= start:
            chosen = value
    return chosen


def _local_time(at: datetime, tz: ZoneInfo) -> time:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}; pass an aware datetime")
    return at.astimezone(tz).time()


def day_period(at: datetime, tz: ZoneInfo = DEFAULT_TZ) -> str:
    """'morning' (05-12), 'afternoon' (12-17) or 'evening' in `tz`."""
    return _pick(DAY_PERIODS, _local_time(at, tz))


def greeting(locale: str, at: datetime, tz: ZoneInfo = DEFAULT_TZ) -> str:
    """'Good afternoon' / 'ظهر بخیر' for the moment `at` seen in `tz`."""
    if locale not in GREETINGS:
        raise ValueError(f"no greetings for locale {locale!r}")
    return _pick(GREETINGS[locale], _local_time(at, tz))
