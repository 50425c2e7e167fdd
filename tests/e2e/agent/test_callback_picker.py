"""A Persian agent books a callback on the Jalali calendar: the browser's
datetime field is replaced by a Jalali one, and the callback is stored at the
Tehran time the agent chose. Saves docs/callback-picker-fa.png when
CC_TEST_SCREENSHOT_DIR is set."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jdatetime
import pytest
from sqlalchemy import select

from callcenter.dates import to_persian_digits
from callcenter.models import Callback
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.agent.test_agent_screen import SHOTS, log_in
from tests.e2e.conftest import use_desk_phone
from tests.integration.agent.agent_floor import end_call, inject_connected_call

pytestmark = pytest.mark.browser
TEHRAN = ZoneInfo("Asia/Tehran")


@pytest.mark.parametrize("live_floor", ["fa"], indirect=True)
def test_a_persian_agent_books_a_callback_on_the_jalali_calendar(
    live_floor: LiveFloor, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, timezone_id="Asia/Tehran")
    log_in(page, live_floor)
    use_desk_phone(page, "sip:1001@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    call = inject_connected_call(live_floor.app, live_floor.floor)
    page.wait_for_selector("#call:not([hidden])")
    end_call(live_floor.app, call)
    page.wait_for_selector("#countdown:not([hidden])")
    page.check("input[name=dispo][value=callback]")
    assert not page.is_visible("#callback-at")
    assert page.is_visible("#callback-at-jalali")

    day = datetime.now(TEHRAN).date() + timedelta(days=2)
    jalali = jdatetime.date.fromgregorian(date=day)
    typed = to_persian_digits(f"{jalali.year}/{jalali.month:02d}/{jalali.day:02d} 10:30")
    page.fill("#callback-at-jalali", typed)
    assert page.input_value("#callback-at") == f"{day.isoformat()}T10:30"
    assert page.text_content("#callback-jalali"), "the screen's own Jalali line follows"
    page.click("#callback-box .jalali-open")
    assert page.is_visible("#callback-box .jalali-day.selected")
    page.screenshot(path=str(SHOTS / "callback-picker-fa.png"), full_page=True)
    page.keyboard.press("Escape")
    page.keyboard.press("Alt+KeyS")
    page.wait_for_selector("#call[hidden]", state="attached")

    with live_floor.app.extensions["cc_database"].read_sessions() as session:
        callback = session.scalars(select(Callback)).one()
    assert callback.due_at == datetime(day.year, day.month, day.day, 10, 30, tzinfo=TEHRAN)
    page.close()
