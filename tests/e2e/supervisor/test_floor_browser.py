"""The live floor in a real headless Chromium: it fills from the server, then
follows simulated calls published into the running app, with no reload.
Saves docs/supervisor-floor.png."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from callcenter.db import Database, utcnow
from callcenter.events import (
    CallAnswered,
    CallDialing,
    CallEnded,
    CallRinging,
    DialingHeld,
    TrunkStatusReported,
)
from callcenter.models import AgentStatus, Lead
from callcenter.realtime.coalesce import CALLS, DELTA_EVENT, single_delta
from callcenter.realtime.rooms import campaign_supervisors_room
from callcenter.services import agents, pacing_log
from callcenter.services.floor.wiring import live_floor_of
from callcenter.settings import load_settings
from callcenter.states import AgentState, CallOutcome
from tests.factories import TEST_PASSWORD
from tests.integration.supervisor.busy_hour import BusyHour, Floor, build_floor
from tests.support import free_port, serve_in_thread

SCREENSHOT = (
    Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))
    / "supervisor-floor.png"
)
DIALS_SHOWN_ARE = (
    "n => document.querySelector('.tile [data-k=\"today.dials\"]')"
    ".textContent.replace(/\\D/g, '') == n"
)
# As dialer/pacing/pacer.py writes it.
PACER_REASON = (
    "agents logged in (1 -> 6); answer rate 31.0%, 6 agents, abandon today 1.40% "
    "(cap 3.0%), risk budget 4.1%; dial level now 2.40"
)
NAMES = [
    "Sara Ahmadi",
    "Reza Karimi",
    "Maryam Hosseini",
    "Ali Rezaei",
    "Neda Moradi",
    "Omid Jafari",
]


@dataclass
class Running:
    app: Flask
    url: str
    floor: Floor
    hour: BusyHour


@pytest.fixture
def running(tmp_path: Path, sqlite_database: Database) -> Iterator[Running]:
    from callcenter.app import create_app
    from callcenter.models import User

    settings = load_settings(
        environ={},
        overrides={"env": "test", "instance_path": str(tmp_path / "instance")},
    )
    app = create_app(settings, database=sqlite_database)
    app.config["RATELIMIT_ENABLED"] = False
    bus = app.extensions["cc_bus"]
    bus.start()
    site = build_floor(sqlite_database, agents_count=len(NAMES), leads=160)
    with sqlite_database.unit_of_work() as session:
        for agent_id, name in zip(site.agent_ids, NAMES, strict=True):
            session.get(User, agent_id).full_name = name
        supervisor = session.scalar(select(User).where(User.username == site.supervisor))
        supervisor.locale = "en"
        pacing_log.record_dial_level(
            session,
            campaign_id=site.campaign_id,
            dial_level=2.4,
            reason=PACER_REASON,
            at=utcnow(),
        )
    hour = BusyHour(
        sqlite_database, bus, site, utcnow() - timedelta(minutes=35), calls=150, pace_seconds=21
    )
    hour.run(stop_at=utcnow())
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    serve_in_thread(server, "floor-app")
    yield Running(app, f"http://127.0.0.1:{port}", site, hour)
    live_floor_of(app).stop()
    server.shutdown()
    bus.stop()


def _log_in(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _number(page: Any, key: str) -> int:
    return int(re.sub(r"\D", "", page.locator(f'.tile [data-k="{key}"]').inner_text()) or 0)


@pytest.mark.browser
def test_the_floor_follows_calls_live(running: Running, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1480, "height": 1040}, locale="en-GB")
    page.goto(f"{running.url}/")
    _log_in(page, running.url, running.floor.supervisor)
    page.goto(f"{running.url}/supervisor/")
    page.wait_for_selector('#conn[data-state="up"]')
    page.wait_for_selector("#agents-table tbody tr")

    floor = live_floor_of(running.app)
    day = floor.local_day(utcnow())
    dials = int(floor.counters.totals(day)[running.floor.campaign_id]["dials"])
    page.wait_for_function(
        DIALS_SHOWN_ARE,
        arg=str(dials),
    )
    assert page.locator("#agents-table tbody tr").count() == len(NAMES)
    assert page.locator("#campaign-pick option").count() == 2  # all + the one campaign

    # a new call is dialed and answered: it shows at once, no reload
    bus = running.app.extensions["cc_bus"]
    with running.app.extensions["cc_database"].read_sessions() as session:
        lead_id, other_lead_id = session.scalars(
            select(Lead.id)
            .where(Lead.campaign_id == running.floor.campaign_id)
            .order_by(Lead.id.desc())
            .limit(2)
        ).all()
    bus.publish(
        CallDialing(
            call_id="browser-1", campaign_id=running.floor.campaign_id, lead_id=lead_id, attempt=1
        )
    )
    bus.publish(CallRinging(call_id="browser-1"))
    bus.publish(CallAnswered(call_id="browser-1"))
    assert bus.wait_until_idle(10)
    page.wait_for_selector('#calls-table tr[data-call-id="browser-1"] .pill.call-answered')
    page.wait_for_function(
        DIALS_SHOWN_ARE,
        arg=str(dials + 1),
        timeout=5000,
    )
    assert _number(page, "today.dials") == dials + 1

    page.select_option("#campaign-pick", str(running.floor.campaign_id))
    page.wait_for_selector("#controls:not([hidden])")
    assert page.locator('[data-k="pacer_reason"]').inner_text() == (
        "agents logged in (1 → 6); answer rate 31.0%, 6 agents, abandoned today 1.40% "
        "(cap 3.0%), risk budget 4.1%; dial level now 2.40"
    )
    page.wait_for_timeout(1200)  # one more tick so times in state read naturally
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # An agent changes state and the waiting customer hangs up, in one breath: the
    # abandon is pushed at once; the agent's state and the call leaving the
    # table come in the room's coalesced floor_delta.
    abandons = page.locator("#abandons-table tbody tr").count()
    database = running.app.extensions["cc_database"]
    with database.read_sessions() as session:
        states = dict(
            session.execute(
                select(AgentStatus.agent_id, AgentStatus.state).where(
                    AgentStatus.agent_id.in_(running.floor.agent_ids)
                )
            ).all()
        )
    agent_id, state = next(
        (agent, state)
        for agent, state in states.items()
        if state in (AgentState.READY, AgentState.PAUSED, AgentState.LOGGED_OUT)
    )
    with database.unit_of_work() as session:
        if state is AgentState.READY:
            agents.pause(session, agent_id, running.floor.pause_reason)
        else:
            agents.join_campaign(session, agent_id, running.floor.campaign_id, "sip:1@pbx")
            agents.go_ready(session, agent_id)
    shown = "st-paused" if state is AgentState.READY else "st-ready"
    bus.publish(CallEnded(call_id="browser-1", outcome=CallOutcome.ABANDONED))
    assert bus.wait_until_idle(10)
    page.wait_for_selector(f'#agents-table tr[data-agent-id="{agent_id}"].{shown}')
    page.wait_for_selector('#calls-table tr[data-call-id="browser-1"]', state="detached")
    page.wait_for_function(
        "n => document.querySelectorAll('#abandons-table tbody tr').length === n",
        arg=abandons + 1,
    )

    # A row of browser-1 another server sent before it ended arrives after the
    # end (then a new call, in a later delta): browser-1 stays gone.
    from callcenter.extensions import socketio

    room = campaign_supervisors_room(running.floor.campaign_id)
    late = {"call_id": "browser-1", "campaign_id": running.floor.campaign_id, "state": "answered"}
    socketio.emit(DELTA_EVENT, single_delta(CALLS, late), to=room)
    bus.publish(
        CallDialing(
            call_id="browser-2",
            campaign_id=running.floor.campaign_id,
            lead_id=other_lead_id,
            attempt=1,
        )
    )
    assert bus.wait_until_idle(10)
    page.wait_for_selector('#calls-table tr[data-call-id="browser-2"]')
    assert page.locator('#calls-table tr[data-call-id="browser-1"]').count() == 0


@pytest.mark.browser
def test_the_floor_reads_right_to_left_in_persian(
    running: Running, browser: Any, tmp_path: Path
) -> None:
    from callcenter.models import User

    with running.app.extensions["cc_database"].unit_of_work() as session:
        supervisor = session.scalar(select(User).where(User.username == running.floor.supervisor))
        supervisor.locale = "fa"
    page = browser.new_page(viewport={"width": 1480, "height": 1040})
    _log_in(page, running.url, running.floor.supervisor)
    page.goto(f"{running.url}/supervisor/")
    page.wait_for_selector('#conn[data-state="up"]')
    page.wait_for_selector("#agents-table tbody tr")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("h1").inner_text() == "سالن زنده"
    dials = page.locator('.tile [data-k="today.dials"]')
    page.wait_for_function("() => el => el.textContent !== '—'", arg=dials.element_handle())
    assert re.fullmatch(r"[۰-۹٬]+", dials.inner_text()), dials.inner_text()
    page.select_option("#campaign-pick", str(running.floor.campaign_id))
    page.wait_for_selector("#controls:not([hidden])")
    assert page.locator('[data-k="pacer_reason"]').inner_text() == (
        "کارشناس‌ها وارد شدند (۱ → ۶)؛ نرخ پاسخ ۳۱٫۰٪، ۶ کارشناس، رهاشدگی امروز ۱٫۴۰٪ "
        "(سقف ۳٫۰٪)، سهم مجاز ریسک ۴٫۱٪؛ سطح شماره‌گیری اکنون ۲٫۴۰"
    )
    assert page.locator("#toggle-running").inner_text() in ("توقف موقت کمپین", "ادامهٔ کمپین")
    page.screenshot(path=str(tmp_path / "floor-fa.png"), full_page=True)

    # The campaign's calling hours close: the dialer panel says until when.
    import jdatetime

    from callcenter.calling_windows import WEEKDAYS
    from callcenter.dates import jalali_month_name, to_persian_digits
    from callcenter.models import Campaign
    from callcenter.services import campaigns

    opens = (datetime.now(ZoneInfo("Asia/Tehran")) + timedelta(days=2)).date()
    with running.app.extensions["cc_database"].unit_of_work() as session:
        campaign = session.get(Campaign, running.floor.campaign_id)
        assert campaign is not None
        windows = {day: [] for day in WEEKDAYS}
        windows[WEEKDAYS[opens.weekday()]] = [{"start": "10:00", "end": "11:00"}]
        campaigns.update_campaign(
            session,
            campaign,
            actor=None,
            timezone="Asia/Tehran",
            calling_windows={"weekly": windows},
        )
        name = campaign.name
    jalali = jdatetime.date.fromgregorian(date=opens)
    day = f"{to_persian_digits(jalali.day)} {jalali_month_name(jalali.month, 'fa')}"
    page.wait_for_function(  # the floor reads campaigns' settings every 10 s
        "day => !document.getElementById('hours-closed').hidden"
        " && document.getElementById('hours-closed').textContent.includes(day)",
        arg=day,
        timeout=30_000,
    )
    closed = page.locator("#hours-closed").inner_text()
    assert name in closed and "بیرون از ساعت‌های مجاز تماس" in closed, closed
    assert to_persian_digits("10:00") in closed, closed


# As dialer/sip/ua.py and registration.py write them.
SILENT = "trunk 10.0.0.9:5060 did not answer 3 requests in a row"


@pytest.mark.browser
def test_a_persian_supervisor_reads_why_a_trunk_is_held_in_persian(
    running: Running, browser: Any
) -> None:
    from callcenter.models import User

    with running.app.extensions["cc_database"].unit_of_work() as session:
        supervisor = session.scalar(select(User).where(User.username == running.floor.supervisor))
        supervisor.locale = "fa"
    page = browser.new_page(viewport={"width": 1480, "height": 1040})
    _log_in(page, running.url, running.floor.supervisor)
    page.goto(f"{running.url}/supervisor/")
    page.wait_for_selector('#conn[data-state="up"]')
    bus = running.app.extensions["cc_bus"]
    status = {
        "healthy": False,
        "reason": SILENT,
        "registration": "failed",
        "registration_detail": "REGISTER failed: Timer F: no answer to REGISTER",
        "options": "unanswered",
        "options_status": "Timer F: no answer to OPTIONS",
        "options_rtt_ms": None,
        "calls_in_flight": 0,
    }
    bus.publish(TrunkStatusReported(dialer_id="dialer-1", trunk="main", status=status))
    bus.publish(DialingHeld(trunk="main", held=True, reason=SILENT))
    assert bus.wait_until_idle(10)

    page.wait_for_selector("#dialing-held:not([hidden])")
    assert page.text_content("#dialing-held-reason") == (
        "main: ترانک 10.0.0.9:5060 به ۳ درخواست پیاپی پاسخ نداد"
    )
    row = page.wait_for_selector('#trunks-table tr[data-dialer-id="dialer-1"]')
    state, registration, options = row.query_selector_all("td")[1:4]
    assert state.text_content() == "شماره‌گیری متوقف"
    assert state.get_attribute("title") == "ترانک 10.0.0.9:5060 به ۳ درخواست پیاپی پاسخ نداد"
    assert registration.get_attribute("title") == (
        "ثبت‌نام (REGISTER) ناموفق بود: پاسخی به REGISTER نیامد"
    )
    assert options.get_attribute("title") == "پاسخی به OPTIONS نیامد"
