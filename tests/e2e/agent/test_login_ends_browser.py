"""A screen whose login ended elsewhere (an admin deactivated the user, took
their role, reset their password) goes to the login page by itself: at the
agent's next key press, refused by the server, and on a screen that sends
nothing, when the session sweep closes its socket. Before, the agent saw a
"please log in" toast and a red dot, and the supervisor's floor froze."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from callcenter.models import User
from callcenter.services import accounts
from callcenter.states import Role
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.site import log_in

pytestmark = pytest.mark.browser


def _screen(browser: Any, live: LiveFloor, username: str, path: str) -> Any:
    page = browser.new_context(locale="en-GB").new_page()
    log_in(page, live.url, username)
    page.goto(f"{live.url}{path}")
    return page


def _change(live: LiveFloor, username: str, what: str) -> None:
    database = live.app.extensions["cc_database"]
    with database.unit_of_work() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        if what == "deactivate":
            accounts.set_active(session, user, False, actor=None)
        else:
            accounts.set_role(session, user, Role.MANAGER, actor=None)


@pytest.mark.parametrize("what", ["deactivate", "change role"])
def test_the_agents_next_key_press_after_the_login_ended_lands_on_the_login(
    live_floor: LiveFloor, browser: Any, what: str
) -> None:
    live = live_floor
    page = _screen(browser, live, live.floor.agent_username, "/agent/")
    page.wait_for_function("() => document.getElementById('conn').classList.contains('on')")
    _change(live, live.floor.agent_username, what)
    page.keyboard.press("F3")  # pause: refused, the login is over
    page.wait_for_url("**/login**", timeout=15_000)


def test_a_floor_whose_login_ended_lands_on_the_login_when_its_socket_is_closed(
    live_floor: LiveFloor, browser: Any
) -> None:
    live = live_floor
    page = _screen(browser, live, live.floor.supervisor_username, "/supervisor/")
    page.wait_for_selector("#conn[data-state=up]")
    sweep = live.app.extensions["cc_session_sweep"]
    _change(live, live.floor.supervisor_username, "deactivate")
    assert len(sweep.sweep()) == 1
    page.wait_for_url("**/login**", timeout=15_000)
