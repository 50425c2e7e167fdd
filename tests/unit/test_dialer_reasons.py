"""The dialer's trunk and phone texts each have a translated pattern."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask_babel import force_locale, gettext

from callcenter import dialer_reasons, i18n, pacer_reasons
from callcenter.db import utcnow
from dialer.agent_legs import loss_reason
from dialer.carrier import CallProgress

# As dialer/sip/ua.py, registration.py, keepalive.py, trunk.py,
# floor_reports.py and the simulated carrier write them.
TRUNK_TEXTS = [
    "not yet used",
    "trunk answers",
    "trunk healthy again",
    "trunk unhealthy",
    "trunk 10.0.0.9:5060 did not answer 3 requests in a row",
    "OPTIONS keepalive to the trunk timed out",
    "trying the trunk again (it does not answer OPTIONS): OPTIONS keepalive to the trunk timed out",
    "not yet sent",
    "registered for 300 s",
    "unregistered",
    "REGISTER failed: Timer F: no answer to REGISTER",
    "stopped; the registrar did not confirm the unregister in 2 s",
    "stopped; unregister failed: Timer F: no answer to REGISTER",
    "Timer B: no response",
    "transport error: [Errno 101] Network is unreachable sending from 10.0.0.1 to 10.0.0.9:5060",
    "simulated",
    "simulated carrier",
]
PHONE_TEXTS = [
    loss_reason(CallProgress("leg", "ended", utcnow(), "busy", 486, "Busy Here"), answered=False),
    loss_reason(CallProgress("leg", "ended", utcnow(), "no_answer"), answered=False),
    loss_reason(CallProgress("leg", "ended", utcnow()), answered=False),
    loss_reason(CallProgress("leg", "ended", utcnow(), sip_reason="Normal"), answered=True),
    loss_reason(CallProgress("leg", "ended", utcnow()), answered=True),
    "no phone leg up when a call came",
]
ENGLISH = re.compile(r"\b(the|not|did|answer|no|phone|trunk|failed|stopped|given)\b")


@pytest.fixture
def app() -> Iterator[Flask]:
    app = Flask(__name__)
    i18n.init_app(app, "fa", "Asia/Tehran")
    with app.test_request_context():
        yield app


@pytest.mark.parametrize(
    ("table", "texts"),
    [(dialer_reasons.TRUNK, TRUNK_TEXTS), (dialer_reasons.PHONE_LOST, PHONE_TEXTS)],
)
def test_every_text_the_dialer_writes_has_a_pattern(
    table: tuple[tuple[str, str], ...], texts: list[str]
) -> None:
    for text in texts:
        assert any(re.fullmatch(pattern, text) for pattern, _ in table), text


@pytest.mark.parametrize("table", [dialer_reasons.TRUNK, dialer_reasons.PHONE_LOST])
def test_the_persian_texts_are_persian(app: Flask, table: tuple[tuple[str, str], ...]) -> None:
    with force_locale("fa"):
        for _, text in table:
            assert not ENGLISH.search(gettext(text)), text


def test_the_browser_gets_javascript_patterns(app: Flask) -> None:
    with force_locale("fa"):
        pairs = pacer_reasons.for_browser(dialer_reasons.PHONE_LOST)
    assert pairs[0] == ["phone hung up: (?<reason>.+)", "تلفن قطع کرد: %(reason)s"]
