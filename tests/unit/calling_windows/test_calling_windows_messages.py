"""What is wrong with calling windows reads in the reader's language."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask_babel import force_locale

from callcenter import i18n
from callcenter.calling_windows import CallingWindows, CallingWindowsError, Window, WindowProblem

WEEK = CallingWindows.iran_default().to_dict()["weekly"]
# English words of the sentences; the JSON keys (weekly, holidays) may stay.
ENGLISH = re.compile(r"\b(is|not|must|missing|expected|unknown|before|time|date|list)\b")

MISTAKES = [
    {"weekly": {"saterday": []}},
    {"weekly": {**WEEK, "monday": [["21:00", "09:00"]]}},
    {"weekly": {**WEEK, "monday": [["9am", "5pm"]]}},
    {"weekly": {**WEEK, "monday": [["24:00", "24:00"]]}},
    {"weekly": {**WEEK, "monday": ["09:00"]}},
    {"weekly": {**WEEK, "monday": "all day"}},
    {"weekly": []},
    {"holidays": ["21/03/2025"]},
    {"holidays": "2025-03-21"},
    {"weekly": {"monday": []}},
    {"hours": {}, "version": 2},
]


@pytest.fixture
def app() -> Iterator[Flask]:
    app = Flask(__name__)
    i18n.init_app(app, "fa", "Asia/Tehran")
    with app.test_request_context():
        yield app


def refusal(data: dict[str, object]) -> CallingWindowsError:
    with pytest.raises(CallingWindowsError) as caught:
        CallingWindows.from_dict(data)
    return caught.value


@pytest.mark.parametrize("data", MISTAKES)
def test_every_problem_is_said_in_persian(app: Flask, data: dict[str, object]) -> None:
    error = refusal(data)
    with force_locale("fa"):
        shown = error.shown()
    assert shown.startswith("بازه‌های مجاز تماس درست نیستند: ")
    assert not ENGLISH.search(shown), shown


def test_english_readers_and_the_api_details_keep_the_english(app: Flask) -> None:
    error = refusal({"weekly": {**WEEK, "monday": [["9am", "5pm"]]}})
    with force_locale("en"):
        assert error.shown() == error.message
    assert error.details["errors"] == [
        "weekly.monday[0]: '9am' is not a time like 09:00",
    ]


def test_a_window_typed_on_the_form_says_its_problem_in_persian(app: Flask) -> None:
    with pytest.raises(WindowProblem) as caught:
        Window.of("25:00", "26:00")
    with force_locale("fa"):
        assert caught.value.shown() == "«25:00» ساعتی میان ۰۰:۰۰ و ۲۳:۵۹ نیست"
