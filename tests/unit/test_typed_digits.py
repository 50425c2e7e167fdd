"""Numbers and dates typed on a Persian or Arabic keyboard are read as ASCII;
free text keeps its digits."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import ImmutableMultiDict

from callcenter.typed_digits import normalized, normalized_form, normalized_payload


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("۱۵", "15"),
        ("٣٠", "30"),
        ("۲٫۵", "2.5"),
        ("۱٬۲۰۰", "1200"),
        ("-۳", "-3"),
        ("۱۴۰۵/۰۹/۱۲", "1405/09/12"),
        ("۲۰۲۶-۱۱-۲۳T۱۴:۳۰", "2026-11-23T14:30"),
        (" ۰۹۱۲ ۳۴۵ ۶۷۸۹ ", " 0912 345 6789 "),
        ("15", "15"),
    ],
)
def test_a_number_or_date_is_read_in_ascii_digits(typed: str, read: str) -> None:
    assert normalized(typed) == read


@pytest.mark.parametrize("text", ["پلاک ۱۲", "Flat ۳, 5th floor", "۱۲ نفر", "", "abc"])
def test_free_text_keeps_its_digits(text: str) -> None:
    assert normalized(text) == text


def test_a_form_is_read_field_by_field_and_passwords_stay_as_typed() -> None:
    form = ImmutableMultiDict(
        [
            ("max_attempts", "۴"),
            ("teams", "۱"),
            ("teams", "٢"),
            ("address", "پلاک ۱۲"),
            ("password", "۱۲۳۴۵۶۷۸۹۰"),
            ("new", "۱۲۳۴۵۶۷۸۹۰"),
        ]
    )
    read = normalized_form(form)
    assert read["max_attempts"] == "4"
    assert read.getlist("teams") == ["1", "2"]
    assert read["address"] == "پلاک ۱۲"
    assert read["password"] == read["new"] == "۱۲۳۴۵۶۷۸۹۰"


def test_a_socket_payload_is_read_at_any_depth() -> None:
    payload = {"percent": "۲٫۵", "step": "٣", "notes": "۱۲۳", "ids": ["۷", 8], "on": True}
    assert normalized_payload(payload) == {
        "percent": "2.5",
        "step": "3",
        "notes": "۱۲۳",
        "ids": ["7", 8],
        "on": True,
    }
