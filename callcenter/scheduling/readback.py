"""What the agent says aloud about a meeting: the two offered slots (step 6)
and the read-back of the booked one (step 7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers

from callcenter.dates import (
    DEFAULT_TZ,
    format_date,
    format_time,
    localize_digits,
    to_local,
    weekday_name,
)

IN_PERSON = "in_person"
ONLINE = "online"

# Left-to-right isolate: keeps '0912 123 4567' or a link in reading order
# inside right-to-left Persian text.
_LRI, _PDI = "\u2066", "\u2069"


def _ltr(text: str, locale: str) -> str:
    return f"{_LRI}{text}{_PDI}" if locale == "fa" and text else text


def format_phone(number: str, locale: str = "en", *, region: str = "IR") -> str:
    """Iranian numbers in national groups ('0912 123 4567', '021 1234 5678'),
    others in international form; Persian digits, isolated left-to-right, in fa.
    Text that is not a phone number is returned with its digits localised."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return _ltr(localize_digits(number.strip(), locale), locale)
    if not phonenumbers.is_valid_number(parsed):
        return _ltr(localize_digits(number.strip(), locale), locale)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(parsed) == region
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return _ltr(localize_digits(phonenumbers.format_number(parsed, style), locale), locale)


def slot_label(start: datetime, now: datetime, locale: str, *, tz: ZoneInfo = DEFAULT_TZ) -> str:
    """How a slot is offered aloud: 'today at 14:00', 'tomorrow at 09:00',
    'Saturday 28 November 2026 (7 Azar 1405) at 10:00' (fa: 'امروز ساعت ۱۴:۰۰' ...)."""
    local = to_local(start, tz)
    days_ahead = (local.date() - to_local(now, tz).date()).days
    clock = format_time(local, locale)
    if locale == "fa":
        day = {0: "امروز", 1: "فردا"}.get(days_ahead) or format_date(local.date(), locale)
        return f"{day} ساعت {clock}"
    day = {0: "today", 1: "tomorrow"}.get(days_ahead) or format_date(local.date(), locale)
    return f"{day} at {clock}"


@dataclass(frozen=True)
class ReadBack:
    """The pieces of a booked meeting as spoken, and the full sentence."""

    day: str
    date: str
    time: str
    place: str
    contact_number: str
    text: str

    def as_context(self) -> dict[str, str]:
        """Values for the script placeholders of step 7."""
        return {
            "appointment_day": self.day,
            "appointment_date": self.date,
            "appointment_time": self.time,
            "place": self.place,
            "contact_number": self.contact_number,
        }


def _place(kind: str, address: str, link: str, locale: str) -> str:
    if kind == ONLINE:
        if locale == "fa":
            if link:
                return f"به‌صورت آنلاین با پیوند {_ltr(link, locale)}"
            return "به‌صورت آنلاین (پیوند جلسه را ایمیل می‌کنیم)"
        return f"online, at {link}" if link else "online (we will email you the link)"
    if kind != IN_PERSON:
        raise ValueError(f"unknown meeting kind {kind!r}; expected {IN_PERSON!r} or {ONLINE!r}")
    if locale == "fa":
        return f"در نشانی {address}" if address else "به‌صورت حضوری (نشانی را هماهنگ می‌کنیم)"
    return f"at {address}" if address else "in person (we will confirm the address together)"


def read_back(
    start: datetime,
    *,
    locale: str,
    kind: str,
    contact_number: str,
    address: str = "",
    link: str = "",
    duration: timedelta | None = None,
    tz: ZoneInfo = DEFAULT_TZ,
) -> ReadBack:
    """Step 7: day, Jalali and Gregorian date, time, place and a direct number.
    `kind` is 'in_person' (with `address`) or 'online' (with `link`)."""
    local = to_local(start, tz)
    day = weekday_name(local.date(), locale)
    date_text = format_date(local.date(), locale, weekday=False)
    clock = format_time(local, locale)
    if duration is not None:
        until = format_time(local + duration, locale)
        clock = f"{clock} تا {until}" if locale == "fa" else f"{clock}–{until}"
    place = _place(kind, address.strip(), link.strip(), locale)
    phone = format_phone(contact_number, locale)
    # Without a number (no caller ID, no direct number) the offer of one is
    # left out rather than read with nothing in it.
    if locale == "fa":
        text = f"پس قرارمان را برای روز {day} {date_text}، ساعت {clock}، {place} ثبت کردم."
        if phone:
            text += f" اگر تا پیش از جلسه کاری داشتید، شماره‌ی مستقیم من {phone} است."
    else:
        text = f"So we are meeting on {day} {date_text} at {clock}, {place}."
        if phone:
            text += f" If anything comes up before then, my direct number is {phone}."
    return ReadBack(day, date_text, clock, place, phone, text)
