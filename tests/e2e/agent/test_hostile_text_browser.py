"""Hostile names, notes and messages in a real Chromium: the agent's screen
pops a call for a customer whose name, company, lead fields, history, notes
and rejection notes are markup; the agent books a meeting at a hostile place
and records a hostile rejection note; the supervisor's live floor shows a
hostile agent, campaign, pause reason and customer, and sends a hostile
message to the agent. Every text shows literally, no markup is created, no
script runs and no dialog opens."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from callcenter.models import (
    Campaign,
    Customer,
    Lead,
    Note,
    PauseReason,
    StepOutcome,
    User,
)
from callcenter.services.floor.wiring import live_floor_of
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.agent.test_agent_screen import log_in
from tests.e2e.conftest import ASSETS, use_desk_phone
from tests.factories import TEST_PASSWORD
from tests.hostile_text import SCRIPT, tag
from tests.integration.agent.agent_floor import inject_connected_call

pytestmark = pytest.mark.browser

FIRST, LAST = tag("first_name"), tag("last_name")
COMPANY = SCRIPT
NOTE = tag("note") + SCRIPT
EARLIER_REJECTION = tag("earlier_rejection")
FIELD_NAME, FIELD_VALUE = tag("field_name"), tag("field_value")
CAMPAIGN, OTHER_CAMPAIGN = tag("campaign"), tag("other_campaign")
AGENT, OTHER_AGENT, SUPERVISOR = tag("agent"), tag("other_agent"), tag("supervisor")
PAUSE = tag("pause")
PLACE = tag("place")
REJECTION = tag("rejection") + SCRIPT
MESSAGE = SCRIPT + tag("message")

# A broken image added through the DOM (no markup, no inline handler): once its
# error event has fired, an injected <img src=x onerror=...> would have fired too.
PROBE = """() => new Promise((done) => {
  const img = document.createElement("img");
  img.addEventListener("error", () => done(true));
  img.src = "/no-such-image-" + Math.random();
  img.id = "probe";
  document.body.append(img);
})"""
PWNED = "typeof window.__pwned"
IMAGES = "[...document.querySelectorAll('img')].filter((i) => i.id !== 'probe').length"


def make_everything_hostile(live: LiveFloor) -> None:
    floor = live.floor
    with live.app.extensions["cc_database"].unit_of_work() as session:
        customer = session.get(Customer, floor.customer_id)
        assert customer is not None
        customer.first_name, customer.last_name, customer.company = FIRST, LAST, COMPANY
        lead = session.get(Lead, floor.lead_id)
        assert lead is not None
        lead.fields = {FIELD_NAME: FIELD_VALUE}
        for note in session.scalars(select(Note).where(Note.customer_id == floor.customer_id)):
            note.text = NOTE
        rejection = session.scalar(
            select(StepOutcome).where(StepOutcome.call_id == floor.earlier_call_id)
        )
        assert rejection is not None
        rejection.reason_code, rejection.reason_text = "other", EARLIER_REJECTION
        for campaign_id, name in (
            (floor.campaign_id, CAMPAIGN),
            (floor.other_campaign_id, OTHER_CAMPAIGN),
        ):
            campaign = session.get(Campaign, campaign_id)
            assert campaign is not None
            campaign.name = name
        for user_id, name in ((floor.agent_id, AGENT), (floor.other_agent_id, OTHER_AGENT)):
            user = session.get(User, user_id)
            assert user is not None
            user.full_name = name
        supervisor = session.scalar(select(User).where(User.username == floor.supervisor_username))
        assert supervisor is not None
        supervisor.full_name, supervisor.locale = SUPERVISOR, "en"
        pause = session.get(PauseReason, "break")
        assert pause is not None
        pause.label_en = PAUSE


def open_page(browser: Any, dialogs: list[str]) -> Any:
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="en-GB")
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return page


def text(page: Any, selector: str) -> str:
    return str(page.text_content(selector) or "")


def assert_no_markup_ran(page: Any) -> None:
    assert page.evaluate(PROBE) is True
    ASSETS.take_back("/no-such-image-")
    assert page.evaluate(PWNED) == "undefined"
    assert page.evaluate(IMAGES) == 0


@pytest.mark.parametrize("live_floor", ["en"], indirect=True)
def test_hostile_text_shows_literally_on_the_agent_screen_and_the_floor(
    live_floor: LiveFloor, browser: Any
) -> None:
    live = live_floor
    make_everything_hostile(live)
    dialogs: list[str] = []
    agent = open_page(browser, dialogs)
    try:
        log_in(agent, live)
        use_desk_phone(agent, "sip:1001@pbx.local")
        agent.keyboard.press("F2")
        agent.wait_for_selector("#agent-state[data-state=ready]")
        inject_connected_call(live.app, live.floor)
        agent.wait_for_function("() => window.ccAgent.pops.length === 1")

        assert FIRST in text(agent, "#cust-name") and LAST in text(agent, "#cust-name")
        assert text(agent, "#cust-company") == COMPANY
        assert text(agent, "#cust-campaign") == CAMPAIGN
        assert text(agent, "#lead-fields dt") == FIELD_NAME
        assert text(agent, "#lead-fields dd") == FIELD_VALUE
        history = text(agent, "#history")
        for shown in (NOTE, EARLIER_REJECTION, OTHER_AGENT, OTHER_CAMPAIGN):
            assert shown in history, shown
        assert LAST in text(agent, "#step-prompt")

        for _ in range(5):
            agent.keyboard.press("Alt+KeyN")
        agent.wait_for_selector("#booking:not([hidden])")
        agent.keyboard.press("Alt+KeyW")
        agent.fill("#meet-address", PLACE)
        agent.keyboard.press("Alt+KeyK")
        agent.wait_for_selector("#booked:not([hidden])")
        assert PLACE in text(agent, "#read-back")
        agent.keyboard.press("Alt+KeyN")
        agent.wait_for_function(
            "() => document.getElementById('step-prompt').textContent.includes('alt=place')"
        )
        assert PLACE in text(agent, "#step-prompt")

        agent.keyboard.press("Alt+KeyJ")
        agent.select_option("#reject-reason", "other")
        agent.fill("#reject-text", REJECTION)
        agent.click("#btn-reject-save")
        agent.wait_for_function("() => document.getElementById('reject-saved').textContent !== ''")
        assert REJECTION in text(agent, "#reject-saved")

        supervisor = open_page(browser, dialogs)
        supervisor.goto(f"{live.url}/login")
        supervisor.fill("input[name=username]", live.floor.supervisor_username)
        supervisor.fill("input[name=password]", TEST_PASSWORD)
        supervisor.click("button[type=submit]")
        supervisor.goto(f"{live.url}/supervisor/")
        supervisor.wait_for_selector('#conn[data-state="up"]')
        row = f'#agents-table tr[data-agent-id="{live.floor.agent_id}"]'
        # The agent's state and the call's customer reach the floor as separate
        # events, so the row can show "on call" a moment before whom with.
        supervisor.wait_for_function(
            "(row) => document.querySelector(row)?.textContent.includes('alt=last_name')", arg=row
        )
        assert text(supervisor, f"{row} td.name") == AGENT
        assert LAST in text(supervisor, row)  # the customer the agent is talking to
        supervisor.wait_for_function(
            "() => document.getElementById('calls-table').textContent.includes('alt=last_name')"
        )
        options = supervisor.eval_on_selector_all(
            "#campaign-pick option, #agents-table select option", "o => o.map(x => x.text)"
        )
        assert CAMPAIGN in options and PAUSE in options

        supervisor.locator(f"{row} button", has_text="Message").click()
        assert text(supervisor, "#message-to") == AGENT
        supervisor.fill("#message-text", MESSAGE)
        supervisor.locator("#message-form button[type=submit]").click()
        agent.wait_for_selector("#supervisor-message:not([hidden])")
        assert text(agent, "#supervisor-message-text") == MESSAGE
        assert SUPERVISOR in text(agent, "#supervisor-message-from")

        for page in (agent, supervisor):
            assert_no_markup_ran(page)
        assert dialogs == []
    finally:
        live_floor_of(live.app).stop()
