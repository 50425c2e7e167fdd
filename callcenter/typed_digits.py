"""Numbers and dates typed on a Persian or Arabic keyboard, read as ASCII.

A Persian keyboard types ۰-۹ (and an Arabic one ٠-٩, with ٫ for the decimal
point); int(), Decimal() and WTForms' number fields do not take them, so
"۱۵" in a number field came back as "required". A value that is only a
number or a date (digits, separators, a sign) is rewritten to ASCII digits
before anything reads it: each request's form data and each socket event's
payload. Free text (a name, an address, notes) is left as typed, digits and
all, and so is anything in a password field.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request
from werkzeug.datastructures import ImmutableMultiDict

from callcenter.dates import to_ascii_digits

ARABIC_DECIMAL_POINT = "\u066b"  # ٫
ARABIC_THOUSANDS_SEPARATOR = "\u066c"  # ٬
_NON_ASCII_DIGIT = re.compile(r"[\u06f0-\u06f9\u0660-\u0669]")
# What a typed number, date, time or date-time is made of, in any script.
_NUMBER_OR_DATE = re.compile(
    r"^[\s+\-]*[\d\u06f0-\u06f9\u0660-\u0669][\d\u06f0-\u06f9\u0660-\u0669\s/\-.:,T"
    + ARABIC_DECIMAL_POINT
    + ARABIC_THOUSANDS_SEPARATOR
    + r"]*$"
)
# Socket payload keys that hold what a person wrote, kept as written even when
# it is only digits (a note "۱۲۳").
FREE_TEXT_KEYS = frozenset({"notes", "note", "text", "reason_text", "message"})
# Fields whose exact characters matter (a password is hashed as typed).
_KEPT_AS_TYPED = re.compile(r"password|csrf|^(current|new|again)$")


def normalized(text: str) -> str:
    """`text` with Persian and Arabic-Indic digits made ASCII if it is a
    number or a date ("۱۴۰۵/۰۹/۱۲", "۱۲٫۵", "٣"); any other text unchanged."""
    if not _NON_ASCII_DIGIT.search(text) or not _NUMBER_OR_DATE.match(text):
        return text
    return (
        to_ascii_digits(text)
        .replace(ARABIC_DECIMAL_POINT, ".")
        .replace(ARABIC_THOUSANDS_SEPARATOR, "")
    )


def normalized_payload(value: Any) -> Any:
    """A socket event's payload with every number or date string made ASCII,
    at any depth."""
    if isinstance(value, str):
        return normalized(value)
    if isinstance(value, dict):
        return {
            key: item if key in FREE_TEXT_KEYS else normalized_payload(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalized_payload(item) for item in value]
    return value


def normalized_form(form: ImmutableMultiDict[str, str]) -> ImmutableMultiDict[str, str]:
    if not any(_NON_ASCII_DIGIT.search(value) for value in form.values()):
        return form
    return ImmutableMultiDict(
        [
            (name, value if _KEPT_AS_TYPED.search(name) else normalized(value))
            for name, values in form.lists()
            for value in values
        ]
    )


def _normalize_request_form() -> None:
    if request.method in ("POST", "PUT", "PATCH"):
        request.form = normalized_form(request.form)


def init_app(app: Flask) -> None:
    """Before the views (and their WTForms) read the form."""
    app.before_request(_normalize_request_form)
