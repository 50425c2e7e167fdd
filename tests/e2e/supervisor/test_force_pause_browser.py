"""A supervisor pauses an agent who is on a call, in Chromium, in English and
in Persian: the floor says the pause starts after the call and marks the
agent's row; when the wrap-up ends the agent is paused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from callcenter.events import CallAnswered, CallConnected, CallDialing, CallEnded
from callcenter.models import AgentStatus, Lead, User
from callcenter.services import agents
from tests.e2e.admin.conftest import LiveApp, live_app  # noqa: F401
from tests.e2e.site import log_in
from tests.integration.supervisor.busy_hour import build_floor

NAME = {"en": "Nina Karimi", "fa": "نینا کریمی"}
WORDS = {
    "en": ("is on a call: the pause starts when its wrap-up ends", "pause after this call"),
    "fa": ("در حال مکالمه است", "توقف پس از این تماس"),
}


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["en", "fa"])
def test_a_supervisor_pauses_an_agent_on_a_call(
    live_app: LiveApp,  # noqa: F811
    browser: Any,
    locale: str,
) -> None:
    site = build_floor(live_app.database, agents_count=2, leads=4)
    agent_id = site.agent_ids[0]
    with live_app.database.unit_of_work() as session:
        session.get(User, agent_id).full_name = NAME[locale]
        session.scalar(select(User).where(User.username == site.supervisor)).locale = locale
        agents.join_campaign(session, agent_id, site.campaign_id, "sip:1@pbx")
        agents.go_ready(session, agent_id)
        lead_id = session.scalars(
            select(Lead.id).where(Lead.campaign_id == site.campaign_id)
        ).first()
    bus = live_app.app.extensions["cc_bus"]
    bus.publish(
        CallDialing(call_id="c-fp", campaign_id=site.campaign_id, lead_id=lead_id, attempt=1)
    )
    bus.publish(CallAnswered(call_id="c-fp"))
    bus.publish(CallConnected(call_id="c-fp", agent_id=agent_id))
    assert bus.wait_until_idle(10)

    page = browser.new_page(viewport={"width": 1480, "height": 1000})
    log_in(page, live_app.url, site.supervisor)
    page.goto(f"{live_app.url}/supervisor/")
    row = page.locator(f"#agents-table tr[data-agent-id='{agent_id}']")
    page.wait_for_selector(f"#agents-table tr.st-on_call[data-agent-id='{agent_id}']")
    row.locator("select").select_option(site.pause_reason)
    said, marked = WORDS[locale]
    page.wait_for_function(
        "([text]) => document.getElementById('floor-notice').textContent.includes(text)",
        arg=[said],
    )
    assert NAME[locale] in page.locator("#floor-notice").inner_text()
    row.locator(".pause-after-call").wait_for()
    assert marked in row.locator(".pause-after-call").inner_text()

    bus.publish(CallEnded(call_id="c-fp", outcome="answered", agent_id=agent_id))
    assert bus.wait_until_idle(10)
    with live_app.database.unit_of_work() as session:
        agents.end_wrap_up(session, agent_id, "c-fp", auto_ready=True)
    page.wait_for_selector(f"#agents-table tr.st-paused[data-agent-id='{agent_id}']")
    page.close()
    with live_app.database.unit_of_work() as session:
        assert session.get(AgentStatus, agent_id).pause_reason == site.pause_reason
