"""The reports' Calls tab in a real headless Chromium: a supervisor (Persian)
finds their agent's call with the time in both calendars, presses Play, the
player plays the FLAC, and the play is audited. Saves docs/report-calls.png
where CC_TEST_SCREENSHOT_DIR says."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.models import AuditEntry
from callcenter.states import Role
from tests.e2e.site import log_in, make_test_app, serve
from tests.factories import make_campaign, make_team, make_user
from tests.integration.recording.recorded_calls import make_call, record_call

SHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))


@dataclass
class Site:
    url: str
    recorded: str
    unrecorded: str
    supervisor: str


@pytest.fixture
def site(tmp_path: Path, sqlite_database: Database) -> Iterator[Site]:
    app = make_test_app(tmp_path, sqlite_database)
    store = app.extensions["cc_recording_store"]
    with sqlite_database.unit_of_work() as session:
        team = make_team(session)
        agent = make_user(session, Role.AGENT, team=team, full_name="سارا احمدی")
        supervisor = make_user(session, Role.SUPERVISOR, locale="fa")
        supervisor.supervised.append(team)
        campaign = make_campaign(session, name="دفاتر تهران")
        at = utcnow() - timedelta(hours=2)
        recorded = make_call(session, campaign, agent, at=at)
        recorded.ended_at = at + timedelta(seconds=5)
        record_call(session, store, recorded, tmp_path, seconds=5.0)
        unrecorded = make_call(session, campaign, agent, at=at - timedelta(minutes=3))
        ids = (recorded.id, unrecorded.id, supervisor.username)
    url, server = serve(app)
    yield Site(url, *ids)
    server.shutdown()


@pytest.mark.browser
def test_a_supervisor_plays_a_call_from_the_reports_call_list(
    site: Site, browser: Any, sqlite_database: Database
) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 800})
    log_in(page, site.url, site.supervisor)
    page.goto(f"{site.url}/supervisor/reports")
    page.click("[data-tab=call_list]")
    page.wait_for_selector("#call-list")
    assert page.locator("html").get_attribute("dir") == "rtl"
    recorded = page.locator(f"tr[data-call='{site.recorded}']")
    unrecorded = page.locator(f"tr[data-call='{site.unrecorded}']")
    assert "سارا احمدی" in recorded.inner_text()
    when = recorded.locator("td").first.inner_text()
    assert when.startswith("۱۴۰") and "(۲۰۲" in when  # Jalali first, the Gregorian beside it
    assert unrecorded.locator(".play-recording").count() == 0
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "report-calls.png"), full_page=True)
    recorded.locator(".play-recording").click()
    page.wait_for_selector("#recording-audio")
    page.evaluate("document.getElementById('recording-audio').play()")
    page.wait_for_function(
        "() => document.getElementById('recording-audio').currentTime > 0.5", timeout=10000
    )
    page.evaluate("document.getElementById('recording-audio').pause()")
    with sqlite_database.read_sessions() as session:
        plays = session.scalars(
            select(AuditEntry.target_id).where(AuditEntry.action == "recording.play")
        ).all()
    assert site.recorded in plays
