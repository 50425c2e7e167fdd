"""A web worker killed in the middle of a call: the agent's and the
supervisor's browsers reconnect by themselves (no reload) to a worker that
has never seen them, and come back to the same call and script step.

Real processes: gunicorn (gthread, two workers on one port) serving
callcenter.wsgi:app on PostgreSQL and Redis, `callcenter dialer` with the
simulated carrier (every call answered, long talk times), and Chromium."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import Call, Campaign, Disposition, StepAction, StepOutcome, User
from tests.e2e.conftest import use_desk_phone
from tests.e2e.faults import web_processes
from tests.e2e.faults.web_processes import Gunicorn
from tests.factories import TEST_PASSWORD
from tests.integration.agent.agent_floor import Floor, build_floor
from tests.integration.dialer.floor import ALWAYS_OPEN
from tests.support import free_port
from tests.support import wait_until as poll

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]

EVERY_CALL_ANSWERED = {
    "CC_DIALER__SIMULATION__ANSWER": "1",
    "CC_DIALER__SIMULATION__MACHINE": "0",
    "CC_DIALER__SIMULATION__BUSY": "0",
    "CC_DIALER__SIMULATION__NO_ANSWER": "0",
    "CC_DIALER__SIMULATION__FAILED": "0",
    # an hour, at the 0.2 time scale below: no customer hangs up during the test
    "CC_DIALER__SIMULATION__TALK_MEDIAN_SECONDS": "3600",
}
CUSTOMER = "Ms Sara Ahmadi"
AGENT_ONLINE = "() => document.getElementById('conn').classList.contains('on')"


@dataclass
class Topology:
    web: Gunicorn
    database: Database
    floor: Floor


@pytest.fixture
def topology(
    postgres_database: Database, postgres_url: str, redis_url: str, tmp_path: Path
) -> Iterator[Topology]:
    with postgres_database.unit_of_work() as session:
        floor = build_floor(session, locale="en")
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        campaign.calling_windows = ALWAYS_OPEN
        supervisor = session.scalar(select(User).where(User.username == floor.supervisor_username))
        assert supervisor is not None
        supervisor.locale = "en"
    env = web_processes.environment(
        database_url=postgres_url,
        redis_url=redis_url,
        instance=tmp_path / "instance",
        **EVERY_CALL_ANSWERED,
    )
    with (
        web_processes.gunicorn(env, free_port(), workers=2, log=tmp_path / "web.log") as web,
        web_processes.dialer(
            env, "--tick", "0.2", "--sim-time-scale", "0.2", log=tmp_path / "dialer.log"
        ),
    ):
        yield Topology(web, postgres_database, floor)


def log_in(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def floor_row(page: Any) -> list[str]:
    """The customer's row in the floor's live calls: customer, state, agent, step, time."""
    row = page.locator("#calls-table tbody tr", has_text=CUSTOMER)
    return [cell.strip() for cell in row.locator("td").all_inner_texts()] if row.count() else []


def wait_for_floor_step(page: Any, step: int, seconds: float = 10) -> None:
    """Polls through Playwright, so the page's events keep arriving meanwhile."""
    deadline = time.monotonic() + seconds
    while floor_row(page)[3:4] != [str(step)]:
        assert time.monotonic() < deadline, f"the floor shows {floor_row(page)}, not step {step}"
        page.wait_for_timeout(100)


def recorded(database: Database, call_id: str) -> Callable[[int], bool]:
    def at_step(step: int) -> bool:
        with database.read_sessions() as session:
            call = session.get(Call, call_id)
            entered = session.scalars(
                select(StepOutcome.step_number).where(
                    StepOutcome.call_id == call_id, StepOutcome.action == StepAction.ENTER
                )
            ).all()
        return call is not None and call.current_step == step and step in entered

    return at_step


def agent_back_with_a_fresh_view(page: Any, mark: str) -> None:
    """Connected again, and the call on screen is a new object from `resume`
    (the one marked before the fault would still be there otherwise)."""
    page.wait_for_function(
        f"{AGENT_ONLINE} && window.ccAgent.state.call && !window.ccAgent.state.call.{mark}",
        timeout=30000,
    )


def test_browsers_come_back_to_the_same_call_and_step_after_a_worker_is_killed(
    topology: Topology, browser: Any
) -> None:
    web, floor = topology.web, topology.floor

    # The agent logs in, goes ready, and the dialer connects an answered call.
    agent = browser.new_page(viewport={"width": 1440, "height": 1000})
    log_in(agent, web.url, floor.agent_username)
    agent.goto(f"{web.url}/agent/")
    agent.wait_for_function(AGENT_ONLINE)
    use_desk_phone(agent, "sip:1001@pbx.local")
    agent.keyboard.press("F2")
    agent.wait_for_selector("#agent-state[data-state=ready]")
    agent.wait_for_selector("#call:not([hidden])", timeout=30000)
    call_id = agent.evaluate("window.ccAgent.state.call.call.id")
    assert "Ahmadi" in agent.text_content("#cust-name")
    at_step = recorded(topology.database, call_id)

    for _ in range(2):
        agent.keyboard.press("Alt+KeyN")
    poll(lambda: at_step(3), 10, "step 3 recorded")

    supervisor = browser.new_page(viewport={"width": 1480, "height": 1040}, locale="en-GB")
    log_in(supervisor, web.url, floor.supervisor_username)
    supervisor.goto(f"{web.url}/supervisor/")
    supervisor.wait_for_selector('#conn[data-state="up"]')
    wait_for_floor_step(supervisor, 3)

    # Each page marks itself: a reload or a navigation would drop the marks.
    for page in (agent, supervisor):
        page.evaluate("window.ccBeforeTheFault = true")
    agent.evaluate("window.ccAgent.state.call.fromBeforeTheFault = true")

    # Once HTTP keep-alive has closed the page loads' connections, what is
    # left open are the two pages' sockets: kill the worker(s) holding them.
    poll(
        lambda: sum(map(len, web.connections().values())) == 2,
        15,
        "only the two pages' sockets left open",
    )
    holding = set(web.connections())
    # The supervisor's network drops too, until the agent has moved on: what
    # the floor missed meanwhile must come from its own re-fetch on reconnect.
    supervisor.context.set_offline(True)
    for pid in holding:
        os.kill(pid, signal.SIGKILL)

    # The agent's page reconnects by itself to a worker that never saw it,
    # asks again, and shows the same call, customer and step.
    agent_back_with_a_fresh_view(agent, "fromBeforeTheFault")
    assert agent.evaluate("window.ccBeforeTheFault") is True
    assert agent.evaluate("window.ccAgent.state.call.call.id") == call_id
    assert "Ahmadi" in agent.text_content("#cust-name")
    assert agent.locator(".step-dot.current").text_content() == "3"
    serving = set(web.connections())
    assert serving and serving.isdisjoint(holding), (serving, holding)

    agent.keyboard.press("Alt+KeyN")
    poll(lambda: at_step(4), 10, "step 4 recorded")

    # The supervisor's page comes back and shows the live call at step 4.
    assert supervisor.get_attribute("#conn", "data-state") == "down"
    supervisor.context.set_offline(False)
    supervisor.wait_for_selector('#conn[data-state="up"]', timeout=30000)
    wait_for_floor_step(supervisor, 4)
    row = floor_row(supervisor)
    assert "Nina Karimi" in row[2], row
    assert supervisor.evaluate("window.ccBeforeTheFault") is True

    # Both sockets are in their rooms again on the new workers: the next step
    # reaches the floor as a delta, and the hang-up reaches the agent's room.
    agent.keyboard.press("Alt+KeyN")
    wait_for_floor_step(supervisor, 5)
    agent.click("#btn-hangup")
    agent.wait_for_selector("#countdown:not([hidden])", timeout=15000)

    # Wrapping up, the agent's own network blips: the call comes back with the
    # disposition the agent had picked still picked, and it is saved.
    agent.check("input[name=dispo][value=no_decision]")
    agent.evaluate("window.ccAgent.state.call.fromBeforeTheBlip = true")
    agent.context.set_offline(True)
    agent.wait_for_function("() => document.getElementById('conn').classList.contains('off')")
    agent.context.set_offline(False)
    agent_back_with_a_fresh_view(agent, "fromBeforeTheBlip")
    assert agent.is_checked("input[name=dispo][value=no_decision]")
    agent.keyboard.press("Alt+KeyS")
    agent.wait_for_selector("#call[hidden]", state="attached")
    with topology.database.read_sessions() as session:
        code = session.scalar(select(Disposition.code).where(Disposition.call_id == call_id))
    assert code == "no_decision"
    for page in (agent, supervisor):
        page.context.close()
