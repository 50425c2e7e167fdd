"""In a real browser: a campaign with no caller ID, an agent with no direct
number. No step of the script shows a raw `[placeholder]`; step 7 marks the
missing number and says who fixes it, waits for the booking, then reads the
booked meeting back."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.models import Campaign, User
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.agent.test_agent_screen import log_in
from tests.e2e.conftest import use_desk_phone
from tests.integration.agent.agent_floor import inject_connected_call

pytestmark = pytest.mark.browser


def without_contact_number(live: LiveFloor) -> None:
    with live.app.extensions["cc_database"].sessions() as session:
        campaign = session.get(Campaign, live.floor.campaign_id)
        agent = session.get(User, live.floor.agent_id)
        assert campaign is not None and agent is not None
        campaign.caller_id = ""
        agent.direct_number = None
        session.commit()


def script_text(page: Any) -> str:
    return str(page.inner_text("#script-panel"))


@pytest.mark.parametrize("live_floor", ["en", "fa"], indirect=True)
def test_no_step_shows_a_raw_placeholder_and_step_7_fills_in_on_booking(
    live_floor: LiveFloor, browser: Any
) -> None:
    without_contact_number(live_floor)
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    log_in(page, live_floor)
    use_desk_phone(page, "sip:1001@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    inject_connected_call(live_floor.app, live_floor.floor)
    page.wait_for_selector("#call:not([hidden])")

    for step in range(1, 10):
        page.locator(f".step-dot[data-step='{step}']").click()
        page.wait_for_selector(f".step-dot.current[data-step='{step}']")
        assert "[" not in script_text(page), f"step {step}: {script_text(page)!r}"

    page.locator(".step-dot[data-step='7']").click()
    page.wait_for_selector("#step-notice:not([hidden])")
    assert page.locator("#step-prompt mark.gap.pending").count() == 4
    assert page.locator("#step-prompt mark.gap[data-gap=contact_number]").count() == 1
    assert page.locator("#step-gaps li[data-gap=contact_number]").is_visible()

    page.keyboard.press("Alt+KeyQ")
    page.fill("#meet-address", "12 Valiasr St, 3rd floor")
    page.keyboard.press("Alt+KeyK")
    page.wait_for_selector("#booked:not([hidden])", timeout=10000)

    assert page.locator(".step-dot.current").get_attribute("data-step") == "7"
    assert "12 Valiasr St" in page.text_content("#step-prompt")
    assert page.locator("#step-prompt mark.gap.pending").count() == 0
    assert page.locator("#step-notice").is_hidden()
    assert page.locator("#step-prompt mark.gap[data-gap=contact_number]").count() == 1
    assert "[" not in script_text(page)
