"""Jalali + Gregorian dates as users see them, and the Asia/Tehran default.

Every date a user sees carries both calendars: Persian readers get the Jalali
date first (Persian digits and month names) with the Gregorian beside it;
English readers get the Gregorian first with the Jalali beside it. Stored
values are aware datetimes in UTC; this module only converts and formats.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

import jdatetime

DEFAULT_TZ = ZoneInfo("Asia/Tehran")
LOCALES = ("fa", "en")

Locale = Literal["fa", "en"]
Style = Literal["long", "short"]
Calendar = Literal["auto", "jalali", "gregorian"]

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
_TO_PERSIAN = str.maketrans("0123456789" + ARABIC_INDIC_DIGITS, PERSIAN_DIGITS * 2)
_TO_ASCII = str.maketrans(PERSIAN_DIGITS + ARABIC_INDIC_DIGITS, "0123456789" * 2)

# Indexed by date.weekday(): Monday is 0.
WEEKDAY_NAMES: dict[str, tuple[str, ...]] = {
    "fa": ("دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه", "شنبه", "یکشنبه"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
JALALI_MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "fa": (
        "فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
        "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند",
    ),
    "en": (
        "Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar",
        "Mehr", "Aban", "Azar", "Dey", "Bahman", "Esfand",
    ),
}  # fmt: skip
GREGORIAN_MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "fa": (
        "ژانویه", "فوریه", "مارس", "آوریل", "مه", "ژوئن",
        "ژوئیه", "اوت", "سپتامبر", "اکتبر", "نوامبر", "دسامبر",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip

# Jalali years in use are around 1300-1500 and Gregorian ones around 2000,
# so a typed year below this is read as Jalali.
_JALALI_YEAR_LIMIT = 1700
_DATE_PATTERN = re.compile(r"^\s*(\d{4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*$")


class DateParseError(ValueError):
    """A typed date that is not a valid Jalali or Gregorian date."""


def _check_locale(locale: str) -> str:
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}; expected one of {LOCALES}")
    return locale


def _check_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}; pass an aware datetime")
    return value


def to_persian_digits(text: str | int) -> str:
    """ASCII (and Arabic-Indic) digits to Persian ones; other characters kept."""
    return str(text).translate(_TO_PERSIAN)


def to_ascii_digits(text: str) -> str:
    """Persian and Arabic-Indic digits to ASCII ones; other characters kept."""
    return text.translate(_TO_ASCII)


def localize_digits(text: str | int, locale: str) -> str:
    """Digits as readers of `locale` expect them: Persian for fa, ASCII for en."""
    text = str(text)
    return to_persian_digits(text) if _check_locale(locale) == "fa" else to_ascii_digits(text)


def to_local(value: datetime, tz: ZoneInfo = DEFAULT_TZ) -> datetime:
    """An aware datetime seen in `tz` (Asia/Tehran unless told)."""
    return _check_aware(value).astimezone(tz)


def to_utc(value: datetime) -> datetime:
    return _check_aware(value).astimezone(UTC)


def localize(value: datetime, tz: ZoneInfo = DEFAULT_TZ) -> datetime:
    """A naive wall-clock datetime in `tz` made aware."""
    if value.tzinfo is not None:
        raise ValueError(f"{value.isoformat()} is already aware")
    return value.replace(tzinfo=tz)


def combine(day: date, at: time, tz: ZoneInfo = DEFAULT_TZ) -> datetime:
    """The aware datetime for wall-clock `at` on `day` in `tz`."""
    return datetime.combine(day, at, tzinfo=tz)


def to_jalali(day: date) -> jdatetime.date:
    return jdatetime.date.fromgregorian(date=day)


def from_jalali(year: int, month: int, day: int) -> date:
    try:
        return jdatetime.date(year, month, day).togregorian()
    except ValueError as exc:
        raise DateParseError(f"{year}/{month}/{day} is not a Jalali date: {exc}") from exc


def weekday_name(day: date, locale: str) -> str:
    return WEEKDAY_NAMES[_check_locale(locale)][day.weekday()]


def jalali_month_name(month: int, locale: str) -> str:
    return JALALI_MONTH_NAMES[_check_locale(locale)][month - 1]


def gregorian_month_name(month: int, locale: str) -> str:
    return GREGORIAN_MONTH_NAMES[_check_locale(locale)][month - 1]


def format_jalali(day: date, locale: str, *, style: Style = "long") -> str:
    """The Jalali date alone: '2 Azar 1405' / '۲ آذر ۱۴۰۵', or '1405/09/02'."""
    jalali = to_jalali(day)
    if style == "short":
        text = f"{jalali.year:04d}/{jalali.month:02d}/{jalali.day:02d}"
    else:
        text = f"{jalali.day} {jalali_month_name(jalali.month, locale)} {jalali.year}"
    return localize_digits(text, locale)


def format_gregorian(day: date, locale: str, *, style: Style = "long") -> str:
    """The Gregorian date alone: '23 November 2026', or '2026-11-23' (fa: '۲۰۲۶/۱۱/۲۳')."""
    if style == "short":
        separator = "/" if locale == "fa" else "-"
        text = f"{day.year:04d}{separator}{day.month:02d}{separator}{day.day:02d}"
    else:
        text = f"{day.day} {gregorian_month_name(day.month, locale)} {day.year}"
    return localize_digits(text, locale)


def format_time(at: time | datetime, locale: str) -> str:
    return localize_digits(f"{at.hour:02d}:{at.minute:02d}", locale)


def format_date(day: date, locale: str, *, style: Style = "long", weekday: bool = True) -> str:
    """Both calendars, the reader's own first.

    fa long:  'دوشنبه ۲ آذر ۱۴۰۵ (۲۳ نوامبر ۲۰۲۶)'
    en long:  'Monday 23 November 2026 (2 Azar 1405)'
    short:    '۱۴۰۵/۰۹/۰۲ (۲۰۲۶/۱۱/۲۳)' / '2026-11-23 (1405/09/02)'
    """
    if isinstance(day, datetime):
        raise TypeError("format_date takes a date; use format_datetime for a datetime")
    jalali = format_jalali(day, locale, style=style)
    gregorian = format_gregorian(day, locale, style=style)
    first, second = (jalali, gregorian) if locale == "fa" else (gregorian, jalali)
    if style == "long" and weekday:
        first = f"{weekday_name(day, locale)} {first}"
    return f"{first} ({second})"


def format_datetime(
    value: datetime,
    locale: str,
    *,
    tz: ZoneInfo = DEFAULT_TZ,
    style: Style = "long",
    weekday: bool = True,
) -> str:
    """An aware datetime seen in `tz`, both calendars, the reader's own first.

    fa long:  'دوشنبه ۲ آذر ۱۴۰۵، ساعت ۱۴:۳۰ (۲۳ نوامبر ۲۰۲۶)'
    en long:  'Monday 23 November 2026, 14:30 (2 Azar 1405)'
    short:    '۱۴۰۵/۰۹/۰۲ ۱۴:۳۰ (۲۰۲۶/۱۱/۲۳)' / '2026-11-23 14:30 (1405/09/02)'
    """
    local = to_local(value, tz)
    day = local.date()
    jalali = format_jalali(day, locale, style=style)
    gregorian = format_gregorian(day, locale, style=style)
    first, second = (jalali, gregorian) if locale == "fa" else (gregorian, jalali)
    clock = format_time(local, locale)
    if style == "short":
        return f"{first} {clock} ({second})"
    if weekday:
        first = f"{weekday_name(day, locale)} {first}"
    at = f"، ساعت {clock}" if locale == "fa" else f", {clock}"
    return f"{first}{at} ({second})"


def parse_date(text: str, *, calendar: Calendar = "auto") -> date:
    """A date typed year first, in Jalali ('1405/09/02', '۱۴۰۵/۹/۲') or
    Gregorian ('2026-11-23'); `auto` reads a year below 1700 as Jalali."""
    match = _DATE_PATTERN.match(to_ascii_digits(text))
    if match is None:
        raise DateParseError(f"{text!r} is not a date; type it year first, e.g. 1405/09/02")
    year, month, day = (int(part) for part in match.groups())
    if calendar == "jalali" or (calendar == "auto" and year < _JALALI_YEAR_LIMIT):
        return from_jalali(year, month, day)
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise DateParseError(f"{text!r} is not a Gregorian date: {exc}") from exc
