"""A supervisor sees an overdue callback on the live floor and gives it to
another agent, in Chromium, in English and in Persian; the panel follows over
the socket with no reload. Saves docs/floor-callbacks.png and -fa (with
CC_TEST_SCREENSHOT_DIR=docs)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from callcenter.models import Callback, User
from tests.e2e.admin.conftest import SCREENSHOTS, LiveApp, live_app  # noqa: F401
from tests.e2e.site import log_in
from tests.integration.supervisor.busy_hour import build_floor
from tests.integration.supervisor.test_floor_sockets import _overdue_callback

NAMES = {"en": ("Nina Karimi", "Reza Rezaei"), "fa": ("نینا کریمی", "رضا رضایی")}
WORDS = {"en": "Callback given to", "fa": "تماس مجدد به"}


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["en", "fa"])
def test_a_supervisor_reassigns_an_overdue_callback(
    live_app: LiveApp,  # noqa: F811
    browser: Any,
    locale: str,
) -> None:
    site = build_floor(live_app.database, agents_count=2, leads=4)
    with live_app.database.unit_of_work() as session:
        for agent_id, name in zip(site.agent_ids, NAMES[locale], strict=True):
            session.get(User, agent_id).full_name = name
        supervisor = session.scalar(select(User).where(User.username == site.supervisor))
        supervisor.locale = locale
    late = _overdue_callback(live_app.database, site.campaign_id, site.agent_ids[0], hours=2)

    page = browser.new_page(viewport={"width": 1480, "height": 1000})
    log_in(page, live_app.url, site.supervisor)
    page.goto(f"{live_app.url}/supervisor/")
    page.wait_for_selector('#conn[data-state="up"]')
    row = page.locator(f"#callbacks-table tr[data-callback-id='{late}']")
    row.wait_for()
    assert row.locator(".assigned").inner_text() == NAMES[locale][0]
    page.locator("#callbacks-panel").scroll_into_view_if_needed()
    page.screenshot(
        path=str(SCREENSHOTS / f"floor-callbacks{'-fa' if locale == 'fa' else ''}.png"),
        full_page=True,
    )
    row.locator("select").select_option(str(site.agent_ids[1]))
    row.locator("button.reassign").click()
    page.wait_for_selector(f"#callbacks-table tr[data-callback-id='{late}']", state="detached")
    # The floor's push may remove the row before the socket's reply fills the notice.
    page.wait_for_selector("#callbacks-notice[data-ok]")
    notice = page.locator("#callbacks-notice")
    assert WORDS[locale] in notice.inner_text() and NAMES[locale][1] in notice.inner_text()
    assert page.locator("#callbacks-empty").is_visible()
    page.close()

    with live_app.database.unit_of_work() as session:
        assert session.get(Callback, late).assigned_agent_id == site.agent_ids[1]
