"""The reasons the real pacer writes are translated clause by clause."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask_babel import force_locale

from callcenter import i18n, pacer_reasons
from dialer.pacing.pacer import Pacer
from dialer.pacing.state import DialMode
from tests.unit.pacing.test_pacer_decisions import READY, state, talking

LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def reasons_the_pacer_writes() -> list[str]:
    pacer = Pacer()
    written = [pacer.decide(state()).reason]
    fewer = [READY, talking(150.0)]
    for _ in range(300):
        decision = pacer.decide(state(agents=fewer, calls_in_flight=[2.0] * 6))
        if decision.changed:
            written.append(decision.reason)
    written.append(pacer.decide(state(DialMode.PROGRESSIVE)).reason)
    written.append(Pacer().decide(state(DialMode.PREVIEW)).reason)
    written.append(Pacer().decide(state(agents=[])).reason)
    return written


@pytest.fixture
def app() -> Iterator[Flask]:
    app = Flask(__name__)
    i18n.init_app(app, "fa", "Asia/Tehran")
    with app.test_request_context():
        yield app


def test_every_clause_the_pacer_writes_has_a_pattern() -> None:
    reasons = reasons_the_pacer_writes()
    assert any("logged out" in reason for reason in reasons)
    for reason in reasons:
        for clause in reason.split("; "):
            assert any(pattern.fullmatch(clause) for pattern, _ in pacer_reasons._COMPILED), clause


def test_a_persian_reader_sees_no_english(app: Flask) -> None:
    with force_locale("fa"):
        for reason in reasons_the_pacer_writes():
            shown = pacer_reasons.shown(reason)
            assert not LATIN_WORD.search(shown), shown
        assert pacer_reasons.shown("agents logged out (4 -> 2); dial level now 1.80") == (
            "کارشناس‌ها خارج شدند (۴ → ۲)؛ سطح شماره‌گیری اکنون ۱٫۸۰"
        )


def test_an_unknown_clause_is_kept_as_written(app: Flask) -> None:
    with force_locale("fa"):
        assert pacer_reasons.shown("a reason from a newer dialer") == "a reason from a newer dialer"
