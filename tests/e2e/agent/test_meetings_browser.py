"""A meeting's two sides in a real browser, in English and in Persian: the
agent books it with a salesperson of the team (the offered times follow the
choice), and the salesperson records on their own page what happened: a
sale with its amount typed in Persian digits, a meeting moved to another
free time."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.db import utcnow
from callcenter.models import Appointment, Campaign, MeetingKind, User
from callcenter.services import appointments
from callcenter.states import AppointmentStatus, Role
from tests.e2e.agent.conftest import LiveFloor
from tests.e2e.agent.test_agent_screen import log_in
from tests.e2e.conftest import use_desk_phone
from tests.factories import TEST_PASSWORD, make_customer, make_lead, make_user
from tests.integration.agent.agent_floor import connected_call_row, inject_connected_call

# Screenshots for docs/ only when asked: CC_TEST_SCREENSHOT_DIR=docs make test
SHOTS = Path(os.environ.get("CC_TEST_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="cc-shots-"))

pytestmark = pytest.mark.browser

NAMES = {"en": ("Reza Tehrani", "Mina Sadeghi"), "fa": ("رضا تهرانی", "مینا صادقی")}


def _salespeople(live: LiveFloor, locale: str) -> tuple[int, int]:
    database = live.app.extensions["cc_database"]
    with database.sessions() as session:
        agent = session.get(User, live.floor.agent_id)
        assert agent is not None
        people = []
        for name in NAMES[locale]:
            person = make_user(session, Role.AGENT, team=agent.team, full_name=name, locale=locale)
            person.is_salesperson = True
            people.append(person.id)
        session.commit()
        return people[0], people[1]


def _booked_for(live: LiveFloor, owner_id: int, *, days_ago: int = 0) -> int:
    """A meeting of another customer in the salesperson's calendar: the
    first free slot from `days_ago` days back."""
    database = live.app.extensions["cc_database"]
    with database.sessions() as session:
        campaign = session.get(Campaign, live.floor.campaign_id)
        assert campaign is not None
        lead = make_lead(session, campaign, make_customer(session, first_name="Omid"))
        call = connected_call_row(session, live.floor, lead.id)
        then = utcnow() - timedelta(days=days_ago)
        slot = appointments.propose(session, call, salesperson_id=owner_id, now=then)[0]
        meeting = appointments.book(
            session, call, starts_at=slot.start, kind=MeetingKind.ONLINE,
            salesperson_id=owner_id, now=then,
        )  # fmt: skip
        session.commit()
        assert days_ago == 0 or meeting.ends_at < utcnow(), "the meeting must be over"
        return meeting.id


def book_with_a_salesperson(page: Any, live: LiveFloor, locale: str, screenshot: Path) -> None:
    free_first, busy_first = _salespeople(live, locale)
    _booked_for(live, busy_first)  # her earliest time is taken
    log_in(page, live)
    use_desk_phone(page, "sip:1001@pbx.local")
    page.keyboard.press("F2")
    page.wait_for_selector("#agent-state[data-state=ready]")
    inject_connected_call(live.app, live.floor)
    page.wait_for_selector("#call:not([hidden])")
    for _ in range(5):
        page.keyboard.press("Alt+KeyN")
    page.wait_for_selector("#booking:not([hidden])")
    page.wait_for_selector("#salesperson-row:not([hidden])")
    options = page.locator("#salesperson option").all_inner_texts()
    assert options[1:] == sorted(NAMES[locale]), options
    earliest = page.get_attribute("#slot-1", "data-start")

    page.select_option("#salesperson", str(busy_first))
    page.wait_for_function(
        "(before) => document.getElementById('slot-1').dataset.start !== before", arg=earliest
    )
    assert page.get_attribute("#slot-1", "data-start") > earliest
    # The script's step 6 offers the same two times the buttons hold.
    offered = page.locator("#slot-1").evaluate("button => button.lastChild.textContent")
    assert offered.strip() and offered.strip() in page.text_content("#step-prompt")
    page.keyboard.press("Alt+KeyQ")
    page.fill("#meet-address", "12 Valiasr St")
    page.screenshot(path=str(screenshot), full_page=True)
    page.keyboard.press("Alt+KeyK")
    page.wait_for_selector("#booked:not([hidden])")
    name = NAMES[locale][1]
    assert name in page.text_content("#booked-with")
    database = live.app.extensions["cc_database"]
    with database.sessions() as session:
        meeting = session.scalar(
            select(Appointment).where(Appointment.customer_id == live.floor.customer_id)
        )
        assert meeting is not None
        assert (meeting.owner_id, meeting.booked_by_id) == (busy_first, live.floor.agent_id)
        assert free_first != busy_first


@pytest.mark.parametrize("live_floor", ["en"], indirect=True)
def test_the_agent_books_with_a_chosen_salesperson_in_english(
    live_floor: LiveFloor, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    book_with_a_salesperson(page, live_floor, "en", SHOTS / "booking-salesperson.png")


@pytest.mark.parametrize("live_floor", ["fa"], indirect=True)
def test_the_agent_books_with_a_chosen_salesperson_in_persian(
    live_floor: LiveFloor, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="fa-IR")
    book_with_a_salesperson(page, live_floor, "fa", SHOTS / "booking-salesperson-fa.png")


def record_outcomes(page: Any, live: LiveFloor, locale: str, screenshot: Path) -> None:
    salesperson, _ = _salespeople(live, locale)
    over = _booked_for(live, salesperson, days_ago=6)
    coming = _booked_for(live, salesperson)
    database = live.app.extensions["cc_database"]
    with database.sessions() as session:
        user = session.get(User, salesperson)
        assert user is not None
        username = user.username
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.click("#nav-meetings")
    page.wait_for_selector(f"#due #meeting-{over}")
    assert page.locator(f"#coming #meeting-{coming}").count() == 1

    due = page.locator(f"#meeting-{over}")
    due.locator('input[value="sold"]').check()
    due.locator('input[name="sale_amount"]').fill("۲۵٬۰۰۰٬۰۰۰")
    due.locator("button[type=submit]").click()
    page.wait_for_selector(f"#recorded #meeting-{over}")
    amount = page.text_content(f"#meeting-{over} .amount")
    assert amount is not None
    assert ("۲۵٬۰۰۰٬۰۰۰" if locale == "fa" else "25,000,000") in amount

    moving = page.locator(f"#meeting-{coming}")
    moving.locator('input[value="rescheduled"]').check()
    new_time = moving.locator('select[name="new_start"] option').nth(3)
    new_start = new_time.get_attribute("value")
    moving.locator('select[name="new_start"]').select_option(new_start)
    moving.locator("button[type=submit]").click()
    page.wait_for_selector(f"#recorded #meeting-{coming}")
    assert page.locator("#coming .meeting").count() == 1
    page.screenshot(path=str(screenshot), full_page=True)

    with database.sessions() as session:
        sold = session.get(Appointment, over)
        moved = session.scalar(select(Appointment).where(Appointment.rescheduled_from_id == coming))
        assert sold is not None and sold.status is AppointmentStatus.SOLD
        assert sold.sale_amount == 25_000_000
        assert moved is not None and moved.starts_at == datetime.fromisoformat(new_start)
        assert moved.owner_id == salesperson


@pytest.mark.parametrize("live_floor", ["en"], indirect=True)
def test_the_salesperson_records_meetings_in_english(live_floor: LiveFloor, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    record_outcomes(page, live_floor, "en", SHOTS / "meetings.png")
    assert page.evaluate("getComputedStyle(document.body).direction") == "ltr"


@pytest.mark.parametrize("live_floor", ["fa"], indirect=True)
def test_the_salesperson_records_meetings_in_persian(live_floor: LiveFloor, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="fa-IR")
    record_outcomes(page, live_floor, "fa", SHOTS / "meetings-fa.png")
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert "جلسه‌های من" in page.text_content("h1")


@pytest.mark.parametrize(("live_floor", "badge"), [("en", "salesperson"), ("fa", "کارشناس فروش")],
                         indirect=["live_floor"])  # fmt: skip
def test_an_admin_makes_an_agent_a_salesperson(
    live_floor: LiveFloor, browser: Any, badge: str
) -> None:
    database = live_floor.app.extensions["cc_database"]
    locale = "fa" if badge != "salesperson" else "en"
    with database.sessions() as session:
        admin = make_user(session, Role.ADMIN, locale=locale)
        session.commit()
        username = admin.username
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_floor.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_floor.url}/admin/users/{live_floor.floor.agent_id}")
    page.check("input[name=is_salesperson]")
    page.click("form.stacked button[type=submit]")
    page.wait_for_selector("#users")
    row = page.locator("#users tr", has_text=live_floor.floor.agent_username)
    assert badge in row.inner_text()
    with database.sessions() as session:
        agent = session.get(User, live_floor.floor.agent_id)
        assert agent is not None and agent.is_salesperson
