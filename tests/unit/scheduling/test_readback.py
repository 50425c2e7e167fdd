from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.scheduling import format_phone, read_back, slot_label

TEHRAN = ZoneInfo("Asia/Tehran")
LRI, PDI = "\u2066", "\u2069"
START = datetime(2026, 11, 23, 14, 0, tzinfo=TEHRAN)  # Monday, 2 Azar 1405


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("09121234567", "0912 123 4567"),
        ("+989121234567", "0912 123 4567"),
        ("00989121234567", "0912 123 4567"),
        ("02112345678", "021 1234 5678"),
        ("+442079460958", "+44 20 7946 0958"),
        ("ext. 12", "ext. 12"),
    ],
)
def test_format_phone_en(number, expected):
    assert format_phone(number, "en") == expected


def test_format_phone_fa_uses_persian_digits_kept_left_to_right():
    assert format_phone("09121234567", "fa") == f"{LRI}۰۹۱۲ ۱۲۳ ۴۵۶۷{PDI}"
    assert format_phone("۰۹۱۲۱۲۳۴۵۶۷", "fa") == f"{LRI}۰۹۱۲ ۱۲۳ ۴۵۶۷{PDI}"


def test_read_back_in_person_en():
    spoken = read_back(
        START,
        locale="en",
        kind="in_person",
        address="12 Valiasr St, 3rd floor",
        contact_number="09121234567",
    )
    assert spoken.day == "Monday"
    assert spoken.date == "23 November 2026 (2 Azar 1405)"
    assert spoken.time == "14:00"
    assert spoken.text == (
        "So we are meeting on Monday 23 November 2026 (2 Azar 1405) at 14:00, "
        "at 12 Valiasr St, 3rd floor. If anything comes up before then, "
        "my direct number is 0912 123 4567."
    )


def test_read_back_online_fa():
    spoken = read_back(
        START,
        locale="fa",
        kind="online",
        link="https://meet.example.com/abc",
        contact_number="+989121234567",
        duration=timedelta(hours=1),
    )
    assert spoken.day == "دوشنبه"
    assert spoken.date == "۲ آذر ۱۴۰۵ (۲۳ نوامبر ۲۰۲۶)"
    assert spoken.time == "۱۴:۰۰ تا ۱۵:۰۰"
    assert spoken.contact_number == f"{LRI}۰۹۱۲ ۱۲۳ ۴۵۶۷{PDI}"
    assert spoken.text == (
        "پس قرارمان را برای روز دوشنبه ۲ آذر ۱۴۰۵ (۲۳ نوامبر ۲۰۲۶)، ساعت ۱۴:۰۰ تا ۱۵:۰۰، "
        f"به‌صورت آنلاین با پیوند {LRI}https://meet.example.com/abc{PDI} ثبت کردم. "
        f"اگر تا پیش از جلسه کاری داشتید، شماره‌ی مستقیم من {LRI}۰۹۱۲ ۱۲۳ ۴۵۶۷{PDI} است."
    )


def test_read_back_converts_to_the_meeting_zone():
    utc_start = datetime(2026, 11, 23, 10, 30, tzinfo=ZoneInfo("UTC"))
    spoken = read_back(utc_start, locale="en", kind="online", contact_number="02112345678")
    assert spoken.time == "14:00"
    assert spoken.place == "online (we will email you the link)"


def test_read_back_without_address_says_so():
    spoken = read_back(START, locale="fa", kind="in_person", contact_number="09121234567")
    assert "نشانی" in spoken.place


def test_read_back_fills_the_step_7_placeholders():
    context = read_back(START, locale="en", kind="online", contact_number="0912 123 4567")
    assert set(context.as_context()) == {
        "appointment_day",
        "appointment_date",
        "appointment_time",
        "place",
        "contact_number",
    }


def test_unknown_meeting_kind():
    with pytest.raises(ValueError, match="kind"):
        read_back(START, locale="en", kind="by_pigeon", contact_number="09121234567")


def test_slot_labels():
    now = datetime(2026, 11, 23, 10, 0, tzinfo=TEHRAN)
    tomorrow = START + timedelta(days=1, hours=-5)
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=TEHRAN)
    assert slot_label(START, now, "en") == "today at 14:00"
    assert slot_label(tomorrow, now, "en") == "tomorrow at 09:00"
    assert slot_label(saturday, now, "en") == "Saturday 28 November 2026 (7 Azar 1405) at 10:00"
    assert slot_label(START, now, "fa") == "امروز ساعت ۱۴:۰۰"
    assert slot_label(tomorrow, now, "fa") == "فردا ساعت ۰۹:۰۰"
    assert slot_label(saturday, now, "fa") == "شنبه ۷ آذر ۱۴۰۵ (۲۸ نوامبر ۲۰۲۶) ساعت ۱۰:۰۰"
