"""The agent's screen in a real browser: log in, go ready, a call pops, the
nine steps, booking one of the two offered times, the confirmation email at a
real SMTP server, the disposition, ready again; in English and in Persian."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from callcenter.models import AgentStatus, Appointment
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.conftest import use_desk_phone
from tests.factories import TEST_PASSWORD
from tests.integration.agent.agent_floor import end_call, inject_connected_call, new_lead
from tests.integration.dialer.floor import ALWAYS_OPEN
from tests.support import wait_until

# Screenshots for docs/ only when asked: CC_TEST_SCREENSHOT_DIR=docs make test
SHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))

pytestmark = pytest.mark.browser


def log_in(page: Any, live: LiveFloor) -> None:
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", live.floor.agent_username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live.url}/agent/")
    page.wait_for_function("() => document.getElementById('conn').classList.contains('on')")


def walk_the_call(page: Any, live: LiveFloor, screenshot: Path) -> str:
    use_desk_phone(page, "sip:1001@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")

    call_id = inject_connected_call(live.app, live.floor)
    page.wait_for_selector("#call:not([hidden])")
    page.wait_for_function("() => window.ccAgent.pops.length === 1")
    assert "Ahmadi" in page.text_content("#cust-name") or "احمدی" in page.text_content("#cust-name")
    assert page.locator("#history .h-item").count() >= 1

    for _ in range(4):
        page.keyboard.press("Alt+KeyN")
    page.wait_for_selector("#booking:not([hidden])")
    page.keyboard.press("Alt+KeyN")
    slot_label = page.text_content("#slot-2")
    page.keyboard.press("Alt+KeyW")
    page.fill("#meet-address", "12 Valiasr St, 3rd floor")
    page.fill("#notes", "Interested in payroll; call before 11")
    page.keyboard.press("Alt+KeyK")
    try:
        page.wait_for_selector("#booked:not([hidden])", timeout=10000)
    except Exception:
        raise AssertionError(f"not booked: {page.text_content('#toast')!r}") from None
    page.keyboard.press("Alt+KeyN")
    assert "12 Valiasr St" in page.text_content("#step-prompt")
    page.screenshot(path=str(screenshot), full_page=True)
    for _ in range(2):
        page.keyboard.press("Alt+KeyN")
    assert page.locator(".step-dot.current").text_content() in ("9", "۹")
    wait_until(lambda: len(live.inbox.messages) == 1, 10, "the confirmation email")
    page.wait_for_function(
        "() => document.getElementById('follow-up-status').textContent.includes('@')"
    )

    end_call(live.app, call_id)
    page.wait_for_selector("#countdown:not([hidden])")
    page.check("input[name=dispo][value=appointment_set]")
    page.keyboard.press("Alt+KeyS")
    page.wait_for_selector("#call[hidden]", state="attached")
    page.wait_for_selector("#agent-state[data-state=ready]")
    assert slot_label
    return call_id


def check_email(live: LiveFloor, call_id: str) -> None:
    email = live.inbox.messages[0]
    parts = [p for p in email.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    calendar = Calendar.from_ical(parts[0].get_payload(decode=True))
    event = next(iter(calendar.walk("VEVENT")))
    database = live.app.extensions["cc_database"]
    with database.sessions() as session:
        appointment = session.scalar(select(Appointment).where(Appointment.call_id == call_id))
        assert appointment is not None
        assert event.decoded("dtstart") == appointment.starts_at
        status = session.get(AgentStatus, live.floor.agent_id)
        assert status is not None and str(status.state) == "ready"


@pytest.mark.parametrize("live_floor", ["en"], indirect=True)
def test_agent_walks_a_call_in_english(live_floor: LiveFloor, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    log_in(page, live_floor)
    assert page.evaluate("getComputedStyle(document.documentElement).direction") == "ltr"
    call_id = walk_the_call(page, live_floor, SHOTS / "agent-screen.png")
    check_email(live_floor, call_id)
    assert "Confirming our meeting" in live_floor.inbox.messages[0]["Subject"]


@pytest.mark.parametrize("live_floor", ["fa"], indirect=True)
def test_agent_walks_a_call_in_persian_right_to_left(live_floor: LiveFloor, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="fa-IR")
    log_in(page, live_floor)
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    call_id = walk_the_call(page, live_floor, SHOTS / "agent-screen-fa.png")
    check_email(live_floor, call_id)
    email = live_floor.inbox.messages[0]
    assert "جلسه" in str(email["Subject"]) or "ملاقات" in str(email["Subject"])


@pytest.mark.parametrize("live_floor", ["fa"], indirect=True)
def test_script_panel_sits_on_the_right_in_persian(live_floor: LiveFloor, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    log_in(page, live_floor)
    use_desk_phone(page, "sip:1001@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    inject_connected_call(live_floor.app, live_floor.floor)
    page.wait_for_selector("#call:not([hidden])")
    script = page.locator("#script-panel").bounding_box()
    customer = page.locator("#customer-panel").bounding_box()
    assert script["x"] > customer["x"], "script panel must be on the right in RTL"
    assert (
        page.evaluate("getComputedStyle(document.getElementById('script-panel')).direction")
        == "rtl"
    )


@pytest.mark.parametrize("live_floor", ["en"], indirect=True)
def test_a_reload_keeps_the_choices_and_a_paused_campaign_is_said(
    live_floor: LiveFloor, browser: Any
) -> None:
    """What the agent chose survives a reload; nothing of one call is left on
    screen for the next; the agent is told at once that the campaign paused."""
    from callcenter.models import Campaign, CampaignStatus
    from callcenter.services import campaigns

    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    log_in(page, live_floor)
    use_desk_phone(page, "sip:1001@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    first = inject_connected_call(live_floor.app, live_floor.floor)
    page.wait_for_selector("#call:not([hidden])")
    end_call(live_floor.app, first)
    page.wait_for_selector("#countdown:not([hidden])")
    page.check("input[name=dispo][value=callback]")
    page.fill("#callback-at", "2031-05-04T10:30")
    page.reload()
    page.wait_for_selector("#call:not([hidden])")
    # The ended call is offered no times: that is not "no free times".
    page.wait_for_function("() => window.ccAgent.state.call !== null")
    assert "No free times" not in (page.text_content("#toast") or "")
    assert page.is_checked("input[name=dispo][value=callback]")
    assert page.is_visible("#callback-box")

    page.check("input[name=dispo][value=no_decision]")
    page.keyboard.press("Alt+KeyS")
    page.wait_for_selector("#call[hidden]", state="attached")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    database = live_floor.app.extensions["cc_database"]
    with database.sessions() as session:
        second_lead = new_lead(session, live_floor.floor, phone_e164="+989121110077")
    inject_connected_call(live_floor.app, live_floor.floor, second_lead)
    page.wait_for_function("() => window.ccAgent.state.call !== null")
    assert page.input_value("#callback-at") == ""
    assert page.text_content("#notes-saved") == ""
    assert not page.is_checked("input[name=dispo][value=no_decision]")

    with database.unit_of_work() as session:
        campaign = session.get(Campaign, live_floor.floor.campaign_id)
        assert campaign is not None
        campaigns.set_status(session, campaign, CampaignStatus.PAUSED, actor=None)
    page.wait_for_selector("#campaign-notice:not([hidden])")
    assert "paused" in page.text_content("#campaign-notice-text")
    page.reload()
    page.wait_for_selector("#campaign-notice:not([hidden])")


@pytest.mark.parametrize("live_floor", ["en", "fa"], indirect=True)
def test_a_ready_agent_is_told_the_campaign_is_outside_its_calling_hours(
    live_floor: LiveFloor, browser: Any
) -> None:
    """Ready on a Friday (Iran's calling rules keep Friday off) no call comes:
    the agent reads why, and when calls start again, in both calendars."""
    import jdatetime

    from callcenter.calling_windows import WEEKDAYS
    from callcenter.dates import jalali_month_name, to_persian_digits
    from callcenter.models import Campaign
    from callcenter.services import campaigns

    tehran = ZoneInfo("Asia/Tehran")
    opens = (datetime.now(tehran) + timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    database = live_floor.app.extensions["cc_database"]
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, live_floor.floor.campaign_id)
        assert campaign is not None
        name = campaign.name
        only_then = [{"start": "10:00", "end": "11:00"}]
        campaigns.update_campaign(
            session,
            campaign,
            actor=None,
            timezone="Asia/Tehran",
            calling_windows={
                "weekly": {
                    day: only_then if day == WEEKDAYS[opens.weekday()] else [] for day in WEEKDAYS
                }
            },
        )

    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    log_in(page, live_floor)
    use_desk_phone(page, "sip:1001@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    page.wait_for_selector("#campaign-notice:not([hidden])")
    notice = page.text_content("#campaign-notice-text") or ""
    jalali = jdatetime.date.fromgregorian(date=opens.date())
    if page.get_attribute("#ws", "data-locale") == "fa":
        assert "بیرون از ساعت‌های مجاز تماس" in notice, notice
        assert f"{to_persian_digits(jalali.day)} {jalali_month_name(jalali.month, 'fa')}" in notice
        assert to_persian_digits("10:00") in notice, notice
    else:
        assert "outside its calling hours" in notice, notice
        assert f"{opens.day} {opens:%B} at 10:00" in notice, notice
        assert f"{jalali.day} {jalali_month_name(jalali.month, 'en')}" in notice, notice
    assert name in notice

    # Opened around the clock: the next state the agent sees says nothing more.
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, live_floor.floor.campaign_id)
        assert campaign is not None
        campaigns.update_campaign(session, campaign, actor=None, calling_windows=ALWAYS_OPEN)
    page.keyboard.press("F3")
    page.wait_for_selector("#agent-state[data-state=paused]")
    page.wait_for_selector("#campaign-notice", state="hidden")
