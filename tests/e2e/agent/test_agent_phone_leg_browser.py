"""The agent's screen says what their phone leg is doing, in a real browser:
calling the phone, then that it is lost and why, with a way to call it again.
The steps arrive as the dialer writes them, through its port."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from callcenter.db import utcnow
from dialer.db_port import DatabaseServices
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.agent.test_agent_screen import log_in
from tests.e2e.conftest import use_desk_phone

SHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))
BUSY = "phone did not answer: 486 Busy Here"

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("live_floor", ["en"], indirect=True)
def test_the_screen_says_the_phone_is_lost_and_calls_it_again(
    live_floor: LiveFloor, browser: Any
) -> None:
    dialer = DatabaseServices(live_floor.app.extensions["cc_database"])
    agent_id = live_floor.floor.agent_id
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    log_in(page, live_floor)

    use_desk_phone(page, "pbx.example.com")
    page.click("#btn-join")
    page.wait_for_selector("#phone-error:not([hidden])")
    assert "SIP address" in page.text_content("#phone-error")

    use_desk_phone(page, "sip:1001@pbx.example.com")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready][data-phone=down]")
    assert page.is_hidden("#phone-error")
    assert dialer.phone_leg_calling(agent_id, "agent-leg-1")
    page.wait_for_selector("#agent-state[data-phone=calling]")
    assert page.text_content("#agent-state") == "Calling your phone…"
    assert "Answer it" in page.text_content("#idle-text")

    dialer.phone_leg_lost(agent_id, "agent-leg-1", reason=BUSY, now=utcnow())
    page.wait_for_selector("#phone-alert:not([hidden])")
    page.reload()
    page.wait_for_selector("#phone-alert:not([hidden])")  # said again after a reload
    assert page.text_content("#agent-state") == "Paused · Phone lost"
    assert BUSY in page.text_content("#phone-alert-text")
    page.screenshot(path=str(SHOTS / "agent-phone-lost.png"))

    page.click("#btn-phone-retry")
    page.wait_for_selector("#agent-state[data-state=ready][data-phone=down]")
    assert page.is_hidden("#phone-alert")
    assert dialer.phone_leg_calling(agent_id, "agent-leg-2")
    dialer.phone_leg_answered(agent_id, "agent-leg-2")
    page.wait_for_selector("#agent-state[data-phone=up]")
    assert page.text_content("#agent-state") == "Ready"
    assert page.text_content("#idle-text") == "Ready. The next call will appear here."


@pytest.mark.parametrize("live_floor", ["fa"], indirect=True)
def test_a_persian_agent_reads_why_the_phone_was_lost_in_persian(
    live_floor: LiveFloor, browser: Any
) -> None:
    dialer = DatabaseServices(live_floor.app.extensions["cc_database"])
    agent_id = live_floor.floor.agent_id
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    log_in(page, live_floor)
    use_desk_phone(page, "sip:1001@pbx.example.com")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready][data-phone=down]")
    assert dialer.phone_leg_calling(agent_id, "agent-leg-1")
    page.wait_for_selector("#agent-state[data-phone=calling]")

    dialer.phone_leg_lost(agent_id, "agent-leg-1", reason=BUSY, now=utcnow())
    page.wait_for_selector("#phone-alert:not([hidden])")
    alert = page.text_content("#phone-alert-text") or ""
    assert "تلفن پاسخ نداد: 486 Busy Here" in alert  # the SIP phrase as the phone sent it
    assert "phone did not answer" not in alert

    dialer.phone_leg_lost(
        agent_id, "agent-leg-1", reason="phone hung up: no reason given", now=utcnow()
    )
    page.wait_for_function(
        "() => document.getElementById('phone-alert-text').textContent.includes('تلفن قطع کرد')"
    )
    assert "تلفن قطع کرد: دلیلی گفته نشد" in (page.text_content("#phone-alert-text") or "")
