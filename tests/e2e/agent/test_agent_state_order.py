"""The agent's screen ends on the newest state whatever order a reply and a
push reach it in, in a real browser against the real server. The test sits
on the page's one WebSocket (Playwright's WebSocket route), passes every
frame as sent and holds back one frame from the server until the newer
change has reached the screen: the interleaving a slow reply, or two
processes' pushes crossing, make on a busy floor."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dialer.db_port import DatabaseServices
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.agent.test_agent_screen import log_in
from tests.e2e.conftest import use_desk_phone
from tests.integration.agent.agent_floor import inject_connected_call

pytestmark = pytest.mark.browser

# Socket.IO over Engine.IO: "42<ack id>[name, data]" is an event, "43<ack id>[reply]" its reply.
_EVENT = re.compile(r'^42(\d*)\["([^"]+)"')

# Every packet the page's Socket.IO client takes in, so the test knows the
# held frame was read before it looks at the screen.
_COUNT_PACKETS = """() => {
  window.ccTaken = [];
  window.ccAgent.socket.io.on("packet", function (p) { window.ccTaken.push([p.type, p.id]); });
}"""


class HeldFrame:
    """Between the page and the server: the first frame from the server that
    `hold_reply_to` or `hold_push` names waits until `release`."""

    def __init__(self) -> None:
        self.reply_to: str | None = None
        self.push: str | None = None
        self.ack_id: str | None = None
        self.frame: str | None = None
        self.page_side: Any = None

    def hold_reply_to(self, event: str) -> None:
        self.reply_to = event

    def hold_push(self, event: str) -> None:
        self.push = event

    def route(self, page_side: Any) -> None:
        server = page_side.connect_to_server()

        def from_page(message: str | bytes) -> None:
            match = _EVENT.match(message) if isinstance(message, str) else None
            if match and self.reply_to == match.group(2) and self.ack_id is None:
                self.ack_id = match.group(1)
            server.send(message)

        def from_server(message: str | bytes) -> None:
            if self.frame is None and isinstance(message, str) and self._wanted(message):
                self.frame, self.page_side = message, page_side
                return
            page_side.send(message)

        page_side.on_message(from_page)
        server.on_message(from_server)

    def _wanted(self, message: str) -> bool:
        if self.ack_id is not None and message.startswith(f"43{self.ack_id}["):
            return True
        match = _EVENT.match(message)
        return bool(match and self.push is not None and match.group(2) == self.push)

    def wait_held(self, page: Any) -> None:
        for _ in range(200):  # Playwright runs the route's callbacks while the page waits
            if self.frame is not None:
                return
            page.wait_for_timeout(50)
        raise AssertionError("the frame to hold never came")

    def release(self) -> None:
        assert self.frame is not None and self.page_side is not None
        self.page_side.send(self.frame)


def ready_with_a_desk_phone(page: Any, live: LiveFloor, held: HeldFrame) -> None:
    page.route_web_socket(re.compile(r"/socket\.io/"), held.route)
    log_in(page, live)
    use_desk_phone(page, "sip:1001@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")


def test_a_late_resume_reply_does_not_take_back_the_call_that_popped(
    live_floor: LiveFloor, browser: Any
) -> None:
    held = HeldFrame()
    page = browser.new_page()
    ready_with_a_desk_phone(page, live_floor, held)

    held.hold_reply_to("resume")
    page.reload()  # the reconnect's resume: its reply (ready, no call) is held
    held.wait_held(page)
    page.evaluate(_COUNT_PACKETS)
    inject_connected_call(live_floor.app, live_floor.floor)  # the dialer was quicker
    page.wait_for_selector("#agent-state[data-state=on_call]")
    page.wait_for_selector("#call:not([hidden])")

    held.release()
    assert held.ack_id is not None
    page.wait_for_function(
        "id => window.ccTaken.some(p => p[0] === 3 && p[1] === id)", arg=int(held.ack_id)
    )
    assert page.get_attribute("#agent-state", "data-state") == "on_call"
    assert page.is_visible("#call")
    page.close()


def test_an_older_push_delivered_late_does_not_undo_the_pause(
    live_floor: LiveFloor, browser: Any
) -> None:
    dialer = DatabaseServices(live_floor.app.extensions["cc_database"])
    held = HeldFrame()
    page = browser.new_page()
    ready_with_a_desk_phone(page, live_floor, held)
    page.evaluate(_COUNT_PACKETS)

    held.hold_push("agent.state_changed")
    assert dialer.phone_leg_calling(live_floor.floor.agent_id, "agent-leg-1")
    held.wait_held(page)  # "ready, calling your phone", from the dialer, on its way
    page.keyboard.press("F3")
    page.wait_for_selector("#agent-state[data-state=paused]")
    pushes = page.evaluate("() => window.ccTaken.filter(p => p[0] === 2).length")

    held.release()
    page.wait_for_function("n => window.ccTaken.filter(p => p[0] === 2).length > n", arg=pushes)
    assert page.get_attribute("#agent-state", "data-state") == "paused"
    page.close()
