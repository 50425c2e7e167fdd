from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from callcenter import dates

# Each pair checked against jdatetime 6.1 (and the Iranian calendar: Nowruz
# 1403 fell on 20 March 2024, 1403 was a leap year).
KNOWN = [
    (date(2026, 3, 21), (1405, 1, 1)),
    (date(2026, 3, 20), (1404, 12, 29)),
    (date(2026, 11, 23), (1405, 9, 2)),
    (date(2025, 3, 20), (1403, 12, 30)),
    (date(2024, 3, 20), (1403, 1, 1)),
]


@pytest.mark.parametrize(("gregorian", "jalali"), KNOWN)
def test_known_conversions_both_ways(gregorian, jalali):
    converted = dates.to_jalali(gregorian)
    assert (converted.year, converted.month, converted.day) == jalali
    assert dates.from_jalali(*jalali) == gregorian


def test_digits_both_ways():
    assert dates.to_persian_digits("09121234567") == "۰۹۱۲۱۲۳۴۵۶۷"
    assert dates.to_persian_digits("٠١٢٣٤٥٦٧٨٩") == "۰۱۲۳۴۵۶۷۸۹"
    assert dates.to_ascii_digits("۱۴۰۵/۰۹/۰۲") == "1405/09/02"
    assert dates.to_ascii_digits("٠١٢٣٤٥٦٧٨٩ and ۰۱۲۳۴۵۶۷۸۹") == "0123456789 and 0123456789"
    assert dates.localize_digits("12:30", "fa") == "۱۲:۳۰"
    assert dates.localize_digits("۱۲:۳۰", "en") == "12:30"


def test_weekday_names():
    monday = date(2026, 11, 23)
    assert dates.weekday_name(monday, "en") == "Monday"
    assert dates.weekday_name(monday, "fa") == "دوشنبه"
    assert dates.weekday_name(date(2026, 3, 21), "fa") == "شنبه"
    assert dates.weekday_name(date(2026, 3, 20), "fa") == "جمعه"


def test_format_date_puts_the_readers_calendar_first():
    day = date(2026, 11, 23)
    assert dates.format_date(day, "fa") == "دوشنبه ۲ آذر ۱۴۰۵ (۲۳ نوامبر ۲۰۲۶)"
    assert dates.format_date(day, "en") == "Monday 23 November 2026 (2 Azar 1405)"
    assert dates.format_date(day, "fa", style="short") == "۱۴۰۵/۰۹/۰۲ (۲۰۲۶/۱۱/۲۳)"
    assert dates.format_date(day, "en", style="short") == "2026-11-23 (1405/09/02)"
    assert dates.format_date(day, "en", weekday=False) == "23 November 2026 (2 Azar 1405)"


def test_format_datetime_converts_to_tehran():
    # 11:00 UTC is 14:30 in Tehran (UTC+03:30, no DST since 2022).
    moment = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    assert dates.format_datetime(moment, "fa") == "دوشنبه ۲ آذر ۱۴۰۵، ساعت ۱۴:۳۰ (۲۳ نوامبر ۲۰۲۶)"
    assert dates.format_datetime(moment, "en") == "Monday 23 November 2026, 14:30 (2 Azar 1405)"
    assert dates.format_datetime(moment, "en", style="short") == "2026-11-23 14:30 (1405/09/02)"


def test_format_datetime_late_utc_evening_is_next_tehran_day():
    moment = datetime(2026, 3, 20, 21, 0, tzinfo=UTC)
    assert dates.format_datetime(moment, "en", style="short") == "2026-03-21 00:30 (1405/01/01)"
    berlin = dates.format_datetime(moment, "en", tz=ZoneInfo("Europe/Berlin"), style="short")
    assert berlin == "2026-03-20 22:00 (1404/12/29)"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        dates.format_datetime(datetime(2026, 1, 1, 10, 0), "en")
    with pytest.raises(ValueError, match="naive"):
        dates.to_utc(datetime(2026, 1, 1, 10, 0))


def test_tehran_conversions():
    local = dates.localize(datetime(2026, 7, 1, 9, 0))
    assert dates.to_utc(local) == datetime(2026, 7, 1, 5, 30, tzinfo=UTC)
    assert dates.to_local(datetime(2026, 7, 1, 5, 30, tzinfo=UTC)).hour == 9
    assert dates.combine(date(2026, 7, 1), time(9, 0)) == local
    assert str(dates.DEFAULT_TZ) == "Asia/Tehran"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1405/09/02", date(2026, 11, 23)),
        ("۱۴۰۵/۰۹/۰۲", date(2026, 11, 23)),
        ("١٤٠٥/٩/٢", date(2026, 11, 23)),
        (" 1405-1-1 ", date(2026, 3, 21)),
        ("2026-11-23", date(2026, 11, 23)),
        ("۲۰۲۶/۱۱/۲۳", date(2026, 11, 23)),
        ("1403/12/30", date(2025, 3, 20)),
    ],
)
def test_parse_date(typed, expected):
    assert dates.parse_date(typed) == expected


@pytest.mark.parametrize("typed", ["", "23/11/2026", "1404/12/30", "2026-02-30", "tomorrow"])
def test_parse_date_rejects(typed):
    with pytest.raises(dates.DateParseError):
        dates.parse_date(typed)


def test_parse_date_with_forced_calendar():
    assert dates.parse_date("1405/01/01", calendar="gregorian") == date(1405, 1, 1)
    assert dates.parse_date("1405/01/01", calendar="jalali") == date(2026, 3, 21)


def test_unknown_locale():
    with pytest.raises(ValueError, match="locale"):
        dates.format_date(date(2026, 1, 1), "de")
