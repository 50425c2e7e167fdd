"""Numbers as their reader writes them, for the pages people read.

Babel lays a number out by the locale's pattern and symbols (its own
numbering system: ٬ for thousands and ٫ for decimals in Persian, as the
browsers' Intl.NumberFormat("fa-IR") does on the live floor) but keeps Latin
digits, so the digits are made Persian after it (`dates.localize_digits`).
Exports never come here: spreadsheets get Latin digits."""

from __future__ import annotations

from functools import cache

from babel import Locale
from babel.numbers import format_decimal

from callcenter.dates import localize_digits

MISSING = "—"


@cache
def _percent_sign(locale: str) -> str:
    parsed = Locale.parse(locale)
    return str(parsed.number_symbols[parsed.default_numbering_system]["percentSign"])


def format_number(value: float | None, locale: str, *, decimals: int = 0) -> str:
    """1234567 -> '1,234,567' in en, '۱٬۲۳۴٬۵۶۷' in fa; `decimals` places
    always shown; None -> '—'."""
    if value is None:
        return MISSING
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    text = format_decimal(value, format=pattern, locale=locale, numbering_system="default")
    return localize_digits(text, locale)


def format_percent(share: float | None, locale: str) -> str:
    """A share of one (0.123) as a percentage with one decimal: '12.3%' in en,
    '۱۲٫۳٪' in fa; None (nothing to divide by) -> '—'."""
    if share is None:
        return MISSING
    return format_number(share * 100, locale, decimals=1) + _percent_sign(locale)


def format_duration(seconds: float | None, locale: str) -> str:
    """Whole seconds as hours:minutes:seconds ('1:02:05', '۱:۰۲:۰۵'); None -> '—'."""
    if seconds is None:
        return MISSING
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    text = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return localize_digits(text, locale)
