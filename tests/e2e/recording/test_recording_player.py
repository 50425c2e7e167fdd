"""The recording player in a real headless Chromium, in Persian and English:
the FLAC plays (Chromium decodes it), a script step's mark on the timeline
seeks the audio, and the play is audited. Saves docs/recording-player.png
(Persian) and recording-player-en.png where CC_TEST_SCREENSHOT_DIR says."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import AuditEntry, StepAction, StepOutcome
from callcenter.states import Role
from tests.e2e.site import log_in, make_test_app, serve
from tests.factories import make_campaign, make_team, make_user
from tests.integration.recording.recorded_calls import make_call, record_call

SHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))


@dataclass
class Site:
    app: Flask
    url: str
    call_id: str
    supervisors: dict[str, str]


@pytest.fixture
def site(tmp_path: Path, sqlite_database: Database) -> Iterator[Site]:
    app = make_test_app(tmp_path, sqlite_database)
    store = app.extensions["cc_recording_store"]
    with sqlite_database.unit_of_work() as session:
        team = make_team(session)
        agent = make_user(session, Role.AGENT, team=team, full_name="Sara Ahmadi")
        supervisors = {}
        for locale in ("fa", "en"):
            user = make_user(session, Role.SUPERVISOR, locale=locale)
            user.supervised.append(team)
            supervisors[locale] = user.username
        campaign = make_campaign(session, name="Tehran offices")
        call = make_call(session, campaign, agent)
        call.dialed_at = call.connected_at = call.dialed_at - timedelta(minutes=5)
        record_call(session, store, call, tmp_path, seconds=12.0)
        for seq, (step, offset, action) in enumerate(
            [
                (1, 0.0, StepAction.ENTER),
                (2, 3.0, StepAction.ENTER),
                (3, 6.5, StepAction.ENTER),
                (4, 9.0, StepAction.REJECT),
            ],
            start=1,
        ):
            session.add(
                StepOutcome(
                    call_id=call.id,
                    seq=seq,
                    step_number=step,
                    action=action,
                    reason_code="not_interested" if action is StepAction.REJECT else None,
                    at=call.dialed_at + timedelta(seconds=offset),
                )
            )
        call_id = call.id
    url, server = serve(app)
    yield Site(app, url, call_id, supervisors)
    server.shutdown()


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["fa", "en"])
def test_the_player_plays_and_seeks_to_a_step(
    site: Site, browser: Any, sqlite_database: Database, locale: str
) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 700})
    log_in(page, site.url, site.supervisors[locale])
    page.goto(f"{site.url}/recordings/{site.call_id}")
    assert page.locator("html").get_attribute("dir") == ("rtl" if locale == "fa" else "ltr")
    heading = {"fa": "صدای ضبط‌شدهٔ تماس", "en": "Recording of the call"}[locale]
    assert page.locator("h1").first.inner_text() == heading
    page.wait_for_function(
        "() => document.getElementById('recording-audio').duration > 11.9", timeout=10000
    )
    marks = page.locator(".step-mark")
    assert marks.count() == 4
    assert "rejected" in (marks.nth(3).get_attribute("class") or "")
    marks.nth(2).click()  # step 3, 6.5 s in
    page.wait_for_function(
        "() => Math.abs(document.getElementById('recording-audio').currentTime - 6.5) < 0.6",
        timeout=5000,
    )
    page.evaluate("document.getElementById('recording-audio').pause()")
    SHOTS.mkdir(exist_ok=True)
    name = "recording-player.png" if locale == "fa" else "recording-player-en.png"
    page.screenshot(path=str(SHOTS / name), full_page=True)
    with sqlite_database.read_sessions() as session:
        plays = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "recording.play", AuditEntry.target_id == site.call_id
            )
        ).all()
    assert plays, "the play was not audited"
