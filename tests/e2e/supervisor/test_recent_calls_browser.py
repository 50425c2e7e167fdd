"""The floor's recent calls in a real headless Chromium: a call ends and
shows in the panel with no reload; its recording is stored and the Play link
appears; the link opens the player, and the play is audited. Saves
docs/floor-recent-calls.png where CC_TEST_SCREENSHOT_DIR says."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from callcenter.db import Database
from callcenter.events import CallAnswered, CallConnected, CallDialing, CallEnded
from callcenter.models import AuditEntry, Call, Lead, User
from callcenter.services import agents
from callcenter.services.floor.wiring import live_floor_of
from tests.e2e.site import log_in, make_test_app, serve
from tests.integration.recording.recorded_calls import record_call
from tests.integration.supervisor.busy_hour import Floor, build_floor

SHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))


@dataclass
class Running:
    app: Flask
    url: str
    floor: Floor


@pytest.fixture
def running(tmp_path: Path, sqlite_database: Database) -> Iterator[Running]:
    app = make_test_app(tmp_path, sqlite_database)
    bus = app.extensions["cc_bus"]
    bus.start()
    site = build_floor(sqlite_database, agents_count=1, leads=3)
    with sqlite_database.unit_of_work() as session:
        agent = session.get(User, site.agent_ids[0])
        assert agent is not None
        agent.full_name = "Sara Ahmadi"
        supervisor = session.scalar(select(User).where(User.username == site.supervisor))
        assert supervisor is not None
        supervisor.locale = "en"
        agents.join_campaign(session, agent.id, site.campaign_id, "sip:1@pbx")
        agents.go_ready(session, agent.id)
    url, server = serve(app)
    yield Running(app, url, site)
    live_floor_of(app).stop()
    server.shutdown()
    bus.stop()


def _talk(running: Running, call_id: str) -> None:
    database = running.app.extensions["cc_database"]
    with database.read_sessions() as session:
        lead_id = session.scalars(
            select(Lead.id).where(Lead.campaign_id == running.floor.campaign_id)
        ).first()
    bus = running.app.extensions["cc_bus"]
    bus.publish(
        CallDialing(
            call_id=call_id, campaign_id=running.floor.campaign_id, lead_id=lead_id, attempt=1
        )
    )
    bus.publish(CallAnswered(call_id=call_id))
    bus.publish(CallConnected(call_id=call_id, agent_id=running.floor.agent_ids[0]))
    bus.publish(CallEnded(call_id=call_id, outcome="answered", talk_seconds=5))
    assert bus.wait_until_idle(10)


@pytest.mark.browser
def test_a_recent_call_shows_live_and_plays_once_recorded(
    running: Running, browser: Any, sqlite_database: Database, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1480, "height": 1040}, locale="en-GB")
    log_in(page, running.url, running.floor.supervisor)
    page.goto(f"{running.url}/supervisor/")
    page.wait_for_selector('#conn[data-state="up"]')
    assert page.locator("#recent-empty").is_visible()

    _talk(running, "browser-recent")
    row = page.locator("#recent-table tr[data-call='browser-recent']")
    row.wait_for(timeout=10000)
    cells = row.locator("td")
    assert cells.nth(1).inner_text() == "Sara Ahmadi"
    assert cells.nth(4).inner_text() == "Answered"
    assert row.locator(".play-recording").count() == 0

    with sqlite_database.unit_of_work() as session:
        call = session.get(Call, "browser-recent")
        assert call is not None
        record_call(session, running.app.extensions["cc_recording_store"], call, tmp_path)
    row.locator(".play-recording").wait_for(timeout=10000)
    SHOTS.mkdir(exist_ok=True)
    page.locator("#recent-panel").screenshot(path=str(SHOTS / "floor-recent-calls.png"))
    row.locator(".play-recording").click()
    page.wait_for_selector("#recording-audio")
    page.wait_for_function(
        "() => document.getElementById('recording-audio').duration > 1.9", timeout=10000
    )
    with sqlite_database.read_sessions() as session:
        plays = session.scalars(
            select(AuditEntry.target_id).where(AuditEntry.action == "recording.play")
        ).all()
    assert "browser-recent" in plays
