"""A warm transfer between two agents, each on their own screen in Chromium:
the opener picks the other agent in the Transfer control, sees the hold
indicator and the consult buttons, joins all three, hands over; the closer's
screen pops with the same customer and the opener is free to go Ready.

The dialer's media moves are tested against sipp
(tests/integration/transfer); here a stand-in answers the dialer's bus
requests with the progress the real one reports, so the screens see what
they see in production."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.bus import EventBus
from callcenter.events import Event, TransferActionRequested, TransferProgressed, TransferRequested
from callcenter.services import phone_legs
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.conftest import use_desk_phone
from tests.factories import TEST_PASSWORD
from tests.integration.agent.agent_floor import inject_connected_call

pytestmark = pytest.mark.browser

DIALER_ANSWERS = {"hand_over": "completed", "join": "joined", "cancel": "cancelled"}


class DialerStandIn:
    """Answers transfer requests as the dialer does once the media moved."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.seen: list[Event] = []
        bus.subscribe(TransferRequested.TYPE, self.on_event)
        bus.subscribe(TransferActionRequested.TYPE, self.on_event)

    def on_event(self, event: Event) -> None:
        self.seen.append(event)
        if isinstance(event, TransferRequested):
            state = "consulting" if event.kind == "warm" else "completed"
            self.say(event.transfer_id, event.call_id, state)
        elif isinstance(event, TransferActionRequested):
            self.say(event.transfer_id, event.call_id, DIALER_ANSWERS[event.action])

    def say(self, transfer_id: int, call_id: str, state: str) -> None:
        self.bus.publish(TransferProgressed(transfer_id=transfer_id, call_id=call_id, state=state))


def open_screen(browser: Any, live: LiveFloor, username: str, phone: str) -> Any:
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live.url}/agent/")
    page.wait_for_function("() => document.getElementById('conn').classList.contains('on')")
    use_desk_phone(page, phone)
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    return page


def phone_answers(live: LiveFloor, agent_id: int, leg_id: str) -> None:
    database = live.app.extensions["cc_database"]
    with database.unit_of_work() as session:
        assert phone_legs.calling(session, agent_id, leg_id)
        phone_legs.answered(session, agent_id, leg_id)


def test_warm_transfer_between_two_agents_screens(live_floor: LiveFloor, browser: Any) -> None:
    live = live_floor
    dialer = DialerStandIn(live.app.extensions["cc_bus"])
    opener = open_screen(browser, live, live.floor.agent_username, "sip:1001@pbx.local")
    closer = open_screen(browser, live, live.floor.other_username, "sip:1002@pbx.local")
    phone_answers(live, live.floor.agent_id, "leg-opener")
    phone_answers(live, live.floor.other_agent_id, "leg-closer")

    call_id = inject_connected_call(live.app, live.floor)
    opener.wait_for_selector("#call:not([hidden])")
    opener.wait_for_selector("#transfer:not([hidden])")
    opener.fill("#notes", "Ready to buy the yearly plan")
    opener.wait_for_function("() => document.getElementById('notes-saved').textContent !== ''")
    opener.click("#btn-transfer")
    opener.wait_for_selector("#transfer-form:not([hidden])")
    opener.check('input[name="transfer_kind"][value="warm"]')
    opener.check('input[name="transfer_target"][value="agent"]')
    opener.select_option("#transfer-agent", str(live.floor.other_agent_id))
    opener.click("#btn-transfer-go")

    opener.wait_for_selector("#transfer-hold:not([hidden])")
    opener.wait_for_selector("#transfer-consult:not([hidden])")
    assert "Consulting" in opener.text_content("#transfer-status")
    closer.wait_for_function("() => window.ccAgent.events.some(e => e[0] === 'transfer_changed')")

    opener.click("#btn-transfer-join")
    opener.wait_for_selector("#transfer-hold", state="hidden")
    opener.wait_for_function(
        "() => document.getElementById('transfer-status').textContent.includes('All three')"
    )
    assert opener.is_hidden("#btn-transfer-join")

    opener.click("#btn-transfer-hand-over")
    closer.wait_for_selector("#call:not([hidden])")
    closer.wait_for_function("() => window.ccAgent.pops.length === 1")
    assert "Ahmadi" in closer.text_content("#cust-name")
    assert closer.input_value("#notes") == "Ready to buy the yearly plan"
    assert closer.evaluate("() => window.ccAgent.pops[0].call_id") == call_id
    closer.wait_for_selector("#agent-state[data-state=on_call]")
    closer.wait_for_selector("#transfer:not([hidden])")
    opener.wait_for_selector("#agent-state[data-state=wrap_up]")
    assert "Transferred to" in opener.text_content("#transfer-status")
    opener.keyboard.press("F2")  # nothing is owed by the opener: straight back to Ready
    opener.wait_for_selector("#agent-state[data-state=ready]")
    assert [type(event).__name__ for event in dialer.seen] == [
        "TransferRequested",
        "TransferActionRequested",
        "TransferActionRequested",
    ]
