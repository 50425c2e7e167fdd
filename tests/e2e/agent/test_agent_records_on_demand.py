"""On-demand recording from the agent's screen, in English and Persian: the
Record button shows for a campaign that records on demand, asks the dialer
to record the call (recording.requested on the bus), then hides."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.events import Event, RecordingRequested
from callcenter.models import Campaign, RecordingMode, User
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.agent.test_agent_screen import log_in
from tests.e2e.conftest import use_desk_phone
from tests.integration.agent.agent_floor import inject_connected_call
from tests.support import wait_until

pytestmark = pytest.mark.browser

SAID = {"en": "Recording this call from now on.", "fa": "از همین حالا این تماس ضبط می‌شود."}
BUTTON = {"en": "Record this call", "fa": "ضبط این تماس"}


@pytest.mark.parametrize("live_floor", ["en", "fa"], indirect=True)
def test_the_agent_starts_recording_their_call(live_floor: LiveFloor, browser: Any) -> None:
    database = live_floor.app.extensions["cc_database"]
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, live_floor.floor.campaign_id)
        assert campaign is not None
        campaign.recording_mode = RecordingMode.ON_DEMAND
        agent = session.get(User, live_floor.floor.agent_id)
        assert agent is not None
        locale = agent.locale
    asked: list[Event] = []
    live_floor.app.extensions["cc_bus"].subscribe(RecordingRequested.TYPE, asked.append)

    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    log_in(page, live_floor)
    use_desk_phone(page, "sip:1001@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    call_id = inject_connected_call(live_floor.app, live_floor.floor)
    page.wait_for_selector("#btn-record:not([hidden])")
    assert page.text_content("#btn-record") == BUTTON[locale]
    page.click("#btn-record")
    page.wait_for_selector("#btn-record[hidden]", state="attached")
    page.wait_for_function(
        "text => document.getElementById('toast').textContent === text", arg=SAID[locale]
    )
    wait_until(lambda: asked, 5, "recording.requested on the bus")
    assert [(e.call_id, e.trigger) for e in asked] == [(call_id, "agent")]  # type: ignore[attr-defined]
