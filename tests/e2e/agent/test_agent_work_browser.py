"""The agent's own work in a real browser, in English and in Persian: the
dial pad refuses a do-not-call number and dials another (the dialer's side
is played by the test: it answers the `manual_dial.requested` event with the
events the dialer publishes), the call pops, the customer is edited from the
call, "save and pause" is refused whole or ends in the pause; lead search
opens the customer with their other number; a callback comes due, is
rescheduled and cancelled."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import jdatetime
import pytest
from sqlalchemy import select

from callcenter.db import utcnow
from callcenter.events import CallAnswered, CallConnected, CallDialing, ManualDialRequested
from callcenter.models import AgentStatus, Call, Callback, CallbackStatus, Campaign, DncEntry
from callcenter.services import my_callbacks, phone_legs
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.agent.test_agent_screen import log_in
from tests.e2e.conftest import use_desk_phone
from tests.factories import make_customer, make_lead
from tests.integration.agent.agent_floor import end_call
from tests.integration.dialer.floor import ALWAYS_OPEN
from tests.support import wait_until

SHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))
SUFFIX = {"en": "", "fa": "-fa"}

pytestmark = pytest.mark.browser


def play_the_dialer(live: LiveFloor) -> list[str]:
    """Answer each manual dial as the dialer does: dialing, answered, connected."""
    placed: list[str] = []
    bus = live.app.extensions["cc_bus"]

    def place(event: Any) -> None:
        assert isinstance(event, ManualDialRequested)
        call_id = f"manual{len(placed) + 1:026d}"
        placed.append(call_id)
        bus.publish(
            CallDialing(
                call_id=call_id,
                campaign_id=event.campaign_id,
                lead_id=event.lead_id,
                attempt=1,
                agent_id=event.agent_id,
                phone_e164=event.phone_e164,
                is_manual=True,
            )
        )
        bus.publish(CallAnswered(call_id=call_id))
        bus.publish(CallConnected(call_id=call_id, agent_id=event.agent_id))

    bus.subscribe(ManualDialRequested.TYPE, place)
    return placed


def arrange(live: LiveFloor) -> int:
    database = live.app.extensions["cc_database"]
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, live.floor.campaign_id)
        assert campaign is not None
        campaign.calling_windows = ALWAYS_OPEN
        session.add(DncEntry(phone_e164="+989120000001", source="test"))
        customer = make_customer(
            session, first_name="Reza", last_name="Moradi", phone2_e164="+989350001122"
        )
        lead = make_lead(session, campaign, customer)
        callback = Callback(
            lead_id=lead.id,
            customer_id=customer.id,
            campaign_id=campaign.id,
            due_at=utcnow() - timedelta(minutes=1),
            assigned_agent_id=live.floor.agent_id,
            created_by_id=live.floor.agent_id,
        )
        session.add(callback)
        session.flush()
        return callback.id


def ready_with_phone_up(page: Any, live: LiveFloor) -> None:
    use_desk_phone(page, "sip:1001@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    database = live.app.extensions["cc_database"]
    with database.unit_of_work() as session:
        assert phone_legs.calling(session, live.floor.agent_id, "leg-e2e")
    with database.unit_of_work() as session:
        phone_legs.answered(session, live.floor.agent_id, "leg-e2e")
    page.wait_for_selector("#agent-state[data-phone=up]")


def agent_state(live: LiveFloor) -> tuple[str, str | None]:
    database = live.app.extensions["cc_database"]
    with database.sessions() as session:
        status = session.get(AgentStatus, live.floor.agent_id)
        assert status is not None
        return str(status.state), status.pause_reason


def pause_waiting(live: LiveFloor) -> str | None:
    """The pause the agent's wrap-up will end in, if one was asked for."""
    database = live.app.extensions["cc_database"]
    with database.sessions() as session:
        status = session.get(AgentStatus, live.floor.agent_id)
        assert status is not None
        return status.pause_after_call


def the_agents_work(page: Any, live: LiveFloor, locale: str) -> None:
    placed = play_the_dialer(live)
    callback_id = arrange(live)
    log_in(page, live)
    ready_with_phone_up(page, live)
    page.wait_for_selector("#work:not([hidden])")
    page.wait_for_selector("#callbacks-due-count:not([hidden])")  # one is overdue already

    page.fill("#dial-number", "0912 000 0001")
    page.click("#btn-dial")
    page.wait_for_selector("#dial-status.error")
    refused = page.text_content("#dial-status")
    assert ("do-not-call" in refused) if locale == "en" else ("do-not-call" not in refused)
    page.fill("#dial-number", "")
    for key in "09125550101":
        page.click(f".dialpad-key[data-key='{key}']")
    page.screenshot(path=str(SHOTS / f"agent-dial-pad{SUFFIX[locale]}.png"), full_page=True)
    page.click("#btn-dial")
    page.wait_for_selector("#call:not([hidden])")
    assert page.is_hidden("#work")
    assert len(placed) == 1
    page.wait_for_function("() => window.ccAgent.pops.length === 1")

    page.click("#btn-call-edit")
    page.wait_for_selector("#customer-edit[open]")
    page.fill("#ce-email", "not-an-email")
    page.click("#btn-ce-save")
    page.wait_for_selector("#ce-error:not([hidden])")
    assert page.get_attribute("#ce-email", "aria-invalid") == "true"
    page.fill("#ce-email", "")
    page.fill("#ce-first_name", "Ali" if locale == "en" else "علی")
    page.fill("#ce-last_name", "Rostami" if locale == "en" else "رستمی")
    page.fill("#ce-phone2", "۰۹۱۹ ۸۸۸ ۷۷۶۶")
    page.screenshot(path=str(SHOTS / f"agent-customer-edit{SUFFIX[locale]}.png"), full_page=True)
    page.click("#btn-ce-save")
    page.wait_for_selector("#customer-edit", state="hidden")
    surname = "Rostami" if locale == "en" else "رستمی"
    page.wait_for_function(
        "name => document.getElementById('cust-name').textContent.includes(name)", arg=surname
    )
    assert surname in page.text_content("#step-prompt")  # the script reads the new name

    end_call(live.app, placed[0])
    page.wait_for_selector("#countdown:not([hidden])")
    page.check("input[name=dispo][value=no_decision]")
    page.wait_for_selector("#btn-dispose-pause:not([disabled])")
    page.select_option("#pause-reason", "lunch")
    page.check("input[name=dispo][value=callback]")
    # In Persian the Jalali field stands in for the browser's datetime field.
    page.fill("#callback-at-jalali" if locale == "fa" else "#callback-at", "")
    page.click("#btn-dispose-pause")
    # Refused (the callback has no time): neither the disposition nor the
    # pause, so no pause is left waiting for a later plain "save".
    page.wait_for_selector("#toast.error:not([hidden])")
    page.wait_for_selector("#btn-dispose-pause:not([disabled])")
    assert page.is_hidden("#pause-pending")
    assert agent_state(live) == ("wrap_up", None)
    assert pause_waiting(live) is None
    page.check("input[name=dispo][value=no_decision]")
    page.click("#btn-dispose-pause")
    page.wait_for_selector("#agent-state[data-state=paused]")
    assert agent_state(live) == ("paused", "lunch")
    database = live.app.extensions["cc_database"]
    with database.sessions() as session:
        call = session.get(Call, placed[0])
        assert call is not None and call.is_manual and call.phone_e164 == "+989125550101"
        assert call.wrap_up_ended_at is not None

    page.wait_for_selector("#work:not([hidden])")
    page.click("#tab-search")
    page.fill("#search-query", "Moradi")
    page.click("#btn-search")
    page.wait_for_selector("#search-results .result")
    page.click("#search-results .result")
    page.wait_for_selector("#found:not([hidden])")
    assert page.is_visible("#btn-found-call2")
    page.screenshot(path=str(SHOTS / f"agent-lead-search{SUFFIX[locale]}.png"), full_page=True)

    with database.unit_of_work() as session:
        assert my_callbacks.alert_due(session) == 1
    page.wait_for_selector("#callback-due-alert:not([hidden])")
    assert "Moradi" in page.text_content("#callback-due-text")
    page.click("#btn-callback-due-show")
    page.wait_for_selector(f"#callbacks-list li[data-callback-id='{callback_id}'].due")
    row = page.locator(f"#callbacks-list li[data-callback-id='{callback_id}']")
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT10:30")
    if locale == "fa":  # the Jalali field stands in for the browser's datetime field
        day = jdatetime.date.fromgregorian(date=(utcnow() + timedelta(days=1)).date())
        row.locator(".jalali-text").fill(f"{day.year}/{day.month:02d}/{day.day:02d} 10:30")
        assert row.locator(".cb-new-time").input_value() == tomorrow
    else:
        row.locator(".cb-new-time").fill(tomorrow)
    shown = f"#callbacks-list li[data-callback-id='{callback_id}'] .cb-new-jalali"
    page.wait_for_function("s => document.querySelector(s).textContent.trim() !== ''", arg=shown)
    jalali = row.locator(".cb-new-jalali").text_content() or ""
    assert jalali.startswith("به تقویم شمسی" if locale == "fa" else "In the Persian calendar")
    assert (
        ("۱۴۰" in jalali and "ساعت ۱۰:۳۰" in jalali)
        if locale == "fa"
        else ("140" in jalali and "10:30" in jalali)
    )
    page.screenshot(path=str(SHOTS / f"agent-callbacks{SUFFIX[locale]}.png"), full_page=True)
    # The list refreshed while the agent types (the tab opened again, a
    # callback falling due): the row is updated in place, not replaced, so the
    # new time typed in it (and the field's focus) is kept.
    row_selector = f"#callbacks-list li[data-callback-id='{callback_id}']"
    page.evaluate("s => { document.querySelector(s).dataset.drawnBefore = 'yes'; }", row_selector)
    drawn = page.get_attribute("#callbacks-list", "data-drawn")
    page.click("#tab-callbacks")
    page.wait_for_function(
        "n => document.getElementById('callbacks-list').dataset.drawn !== n", arg=drawn
    )
    assert page.get_attribute(row_selector, "data-drawn-before") == "yes"
    assert row.locator(".cb-new-time").input_value() == tomorrow
    assert (row.locator(".cb-new-jalali").text_content() or "") == jalali
    row.locator(".cb-reschedule").click()
    page.wait_for_selector(f"#callbacks-list li[data-callback-id='{callback_id}']:not(.due)")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#callbacks-list li[data-callback-id='{callback_id}'] .cb-cancel").click()
    page.wait_for_selector(
        f"#callbacks-list li[data-callback-id='{callback_id}']", state="detached"
    )
    with database.sessions() as session:
        row_now = session.scalar(select(Callback).where(Callback.id == callback_id))
        assert row_now is not None and row_now.status is CallbackStatus.CANCELLED
    wait_until(lambda: agent_state(live)[0] == "paused", 5, "still paused")


@pytest.mark.parametrize("live_floor", ["en"], indirect=True)
def test_the_agents_own_work_in_english(live_floor: LiveFloor, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    the_agents_work(page, live_floor, "en")


@pytest.mark.parametrize("live_floor", ["fa"], indirect=True)
def test_the_agents_own_work_in_persian(live_floor: LiveFloor, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="fa-IR")
    the_agents_work(page, live_floor, "fa")
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"


@pytest.mark.parametrize("live_floor", ["en"], indirect=True)
def test_hostile_names_show_literally_in_search_the_card_the_editor_and_callbacks(
    live_floor: LiveFloor, browser: Any
) -> None:
    from tests.e2e.agent.test_hostile_text_browser import (
        CAMPAIGN,
        FIRST,
        LAST,
        assert_no_markup_ran,
        make_everything_hostile,
        open_page,
    )

    live = live_floor
    make_everything_hostile(live)
    database = live.app.extensions["cc_database"]
    with database.unit_of_work() as session:
        session.add(
            Callback(
                lead_id=live.floor.lead_id,
                customer_id=live.floor.customer_id,
                campaign_id=live.floor.campaign_id,
                due_at=utcnow() - timedelta(minutes=1),
                assigned_agent_id=live.floor.agent_id,
                created_by_id=live.floor.agent_id,
            )
        )
    dialogs: list[str] = []
    page = open_page(browser, dialogs)
    log_in(page, live)
    page.click("#tab-search")
    page.fill("#search-query", "onerror")
    page.click("#btn-search")
    page.wait_for_selector("#search-results .result")
    assert LAST in (page.text_content("#search-results") or "")
    page.click("#search-results .result")
    page.wait_for_selector("#found:not([hidden])")
    assert FIRST in (page.text_content("#found-name") or "")
    page.click("#btn-found-edit")
    page.wait_for_selector("#customer-edit[open]")
    assert page.input_value("#ce-last_name") == LAST
    page.click("#btn-ce-cancel")
    with database.unit_of_work() as session:
        assert my_callbacks.alert_due(session) == 1
    page.wait_for_selector("#callback-due-alert:not([hidden])")
    assert CAMPAIGN in (page.text_content("#callback-due-text") or "")
    page.click("#btn-callback-due-show")
    page.wait_for_selector("#callbacks-list li")
    assert LAST in (page.text_content("#callbacks-list") or "")
    assert_no_markup_ran(page)
    assert dialogs == []
