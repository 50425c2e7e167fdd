"""The business's codes in a real browser: a manager adds a pause code and a
campaign disposition on their pages, and the agent's screen offers both, in
the agent's language; in English and in Persian."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.models import Disposition, Lead, User
from callcenter.states import Role
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.conftest import use_desk_phone
from tests.factories import TEST_PASSWORD, make_user
from tests.integration.agent.agent_floor import end_call, inject_connected_call

SHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"added": "Pause code added.", "disposition_added": "Disposition added.",
           "minutes": "20 min", "suffix": ""},
    "fa": {"added": "کد توقف افزوده شد.", "disposition_added": "نتیجهٔ تماس افزوده شد.",
           "minutes": "20 دقیقه", "suffix": "-fa"},
}  # fmt: skip


def log_in(page: Any, live: LiveFloor, username: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def manager_adds_codes(page: Any, live: LiveFloor, locale: str) -> None:
    words = WORDS[locale]
    page.goto(f"{live.url}/campaigns/")
    page.click("a[href='/campaigns/pause-codes']")
    add = page.locator("#pause-code-add")
    add.locator("input[name=code]").fill("coaching")
    add.locator("input[name=label_fa]").fill("مربی‌گری")
    add.locator("input[name=label_en]").fill("Coaching")
    add.locator("input[name=limit_minutes]").fill("۲۰")
    add.locator("input[name=is_paid]").uncheck()
    add.locator("button[type=submit]").click()
    page.wait_for_selector(f"text={words['added']}")
    row = page.locator("#pause-codes tr[data-code=coaching]")
    assert row.locator("input[name=limit_minutes]").input_value() == "20"
    assert not row.locator("input[name=is_paid]").is_checked()
    row.locator("button[value=up]").click()
    page.wait_for_load_state()
    codes = page.locator("#pause-codes tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.code)"
    )
    assert codes.index("coaching") == codes.index("technical") - 1
    page.screenshot(path=str(SHOTS / f"pause-codes{words['suffix']}.png"), full_page=True)

    campaign_id = live.floor.campaign_id
    page.goto(f"{live.url}/campaigns/")
    page.click(f"a[href='/campaigns/{campaign_id}/dispositions']")
    add = page.locator("#disposition-add")
    add.locator("input[name=code]").fill("busy_later")
    add.locator("input[name=label_fa]").fill("سرش شلوغ بود")
    add.locator("input[name=label_en]").fill("Busy, call later")
    add.locator("select[name=category]").select_option("retry")
    add.locator("input[name=retry_minutes]").fill("90")
    add.locator("button[type=submit]").click()
    page.wait_for_selector(f"text={words['disposition_added']}")
    for _ in range(7):
        page.locator("#dispositions tr[data-code=busy_later] button[value=up]").click()
        page.wait_for_load_state()
    codes = page.locator("#dispositions tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.code)"
    )
    assert codes[:2] == ["appointment_set", "busy_later"]
    sale = page.locator("#dispositions tr[data-code=sale]")
    sale.locator("button[value=deactivate]").click()
    page.wait_for_load_state()
    page.screenshot(path=str(SHOTS / f"dispositions{words['suffix']}.png"), full_page=True)


def agent_uses_codes(page: Any, live: LiveFloor, locale: str) -> None:
    words = WORDS[locale]
    page.goto(f"{live.url}/agent/")
    page.wait_for_function("() => document.getElementById('conn').classList.contains('on')")
    label = "مربی‌گری" if locale == "fa" else "Coaching"
    coaching = page.locator("#pause-reason option[value=coaching]")
    assert coaching.text_content().startswith(label)
    assert words["minutes"] in coaching.text_content()

    use_desk_phone(page, "sip:1001@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    call_id = inject_connected_call(live.app, live.floor)
    page.wait_for_selector("#call:not([hidden])")
    end_call(live.app, call_id)
    page.wait_for_selector("#countdown:not([hidden])")
    shown = page.locator("#dispo-codes label.dispo:visible").evaluate_all(
        "labels => labels.map(l => l.querySelector('input').value)"
    )
    assert shown[:2] == ["appointment_set", "busy_later"] and "sale" not in shown
    busy = page.locator("#dispo-codes label.dispo:has(input[value=busy_later])")
    assert busy.text_content().strip() == ("سرش شلوغ بود" if locale == "fa" else "Busy, call later")
    page.check("input[name=dispo][value=busy_later]")
    assert page.locator("#callback-box").is_hidden()
    page.screenshot(path=str(SHOTS / f"agent-dispositions{words['suffix']}.png"), full_page=True)
    page.keyboard.press("Alt+KeyS")
    page.wait_for_selector("#call[hidden]", state="attached")

    database = live.app.extensions["cc_database"]
    with database.sessions() as session:
        row = session.scalar(select(Disposition).where(Disposition.call_id == call_id))
        assert row is not None and (row.code, str(row.category)) == ("busy_later", "retry")
        lead = session.get(Lead, live.floor.lead_id)
        assert lead is not None and str(lead.state) == "retry"

    page.select_option("#pause-reason", "coaching")
    page.keyboard.press("F3")
    page.wait_for_selector("#agent-state[data-state=paused]")
    assert label in page.text_content("#agent-state")


@pytest.mark.parametrize(
    ("live_floor", "locale"), [("en", "en"), ("fa", "fa")], indirect=["live_floor"]
)
def test_a_manager_adds_codes_and_the_agent_uses_them(
    live_floor: LiveFloor, browser: Any, locale: str
) -> None:
    database = live_floor.app.extensions["cc_database"]
    with database.sessions() as session:
        manager = make_user(session, Role.MANAGER, locale=locale)
        supervisor = session.scalar(
            select(User).where(User.username == live_floor.floor.supervisor_username)
        )
        assert supervisor is not None
        supervisor.locale = locale
        session.commit()
        manager_name = manager.username
    browser_locale = "fa-IR" if locale == "fa" else "en-GB"
    manager_page = browser.new_page(viewport={"width": 1440, "height": 900}, locale=browser_locale)
    log_in(manager_page, live_floor, manager_name)
    expected_dir = "rtl" if locale == "fa" else "ltr"
    assert manager_page.evaluate("getComputedStyle(document.body).direction") == expected_dir
    manager_adds_codes(manager_page, live_floor, locale)

    agent_page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale=browser_locale)
    log_in(agent_page, live_floor, live_floor.floor.agent_username)
    agent_uses_codes(agent_page, live_floor, locale)

    floor_page = browser.new_page(viewport={"width": 1440, "height": 900}, locale=browser_locale)
    log_in(floor_page, live_floor, live_floor.floor.supervisor_username)
    floor_page.goto(f"{live_floor.url}/supervisor/")
    floor_page.wait_for_selector("#agents-table tr.st-paused")
    paused = floor_page.locator("#agents-table tr.st-paused").inner_text()
    expected = "مربی‌گری (سقف ۲۰ دقیقه)" if locale == "fa" else "Coaching (limit 20 min)"
    assert expected in paused, paused
