"""Figures as a Persian or an English reader writes them."""

from __future__ import annotations

import pytest

from callcenter.numbers import format_duration, format_number, format_percent


@pytest.mark.parametrize(
    ("value", "decimals", "fa", "en"),
    [
        (0, 0, "۰", "0"),
        (1234567, 0, "۱٬۲۳۴٬۵۶۷", "1,234,567"),
        (12.345, 1, "۱۲٫۳", "12.3"),
        (None, 0, "—", "—"),
    ],
)
def test_numbers(value: float | None, decimals: int, fa: str, en: str) -> None:
    assert format_number(value, "fa", decimals=decimals) == fa
    assert format_number(value, "en", decimals=decimals) == en


def test_percentages_carry_the_locales_own_sign() -> None:
    assert format_percent(0.1234, "fa") == "۱۲٫۳٪"
    assert format_percent(0.1234, "en") == "12.3%"
    assert format_percent(1, "fa") == "۱۰۰٫۰٪"
    assert format_percent(None, "fa") == "—"


def test_durations() -> None:
    assert format_duration(3725.4, "fa") == "۱:۰۲:۰۵"
    assert format_duration(65, "en") == "0:01:05"
    assert format_duration(None, "en") == "—"
