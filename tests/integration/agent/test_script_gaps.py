"""The agent never reads a raw `[placeholder]` to a customer: a value nobody
has given is a marked gap that says what is missing and who fixes it, the
title is left out, and step 7's read-back waits for the booking, then shows
the meeting (SQLite and PostgreSQL); the campaign's page tells the manager."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.models import Campaign, Customer, Lead, User
from callcenter.models.scheduling import MeetingKind
from callcenter.services import appointments, script_gaps, workstation
from callcenter.states import Role
from tests.factories import log_in, make_user
from tests.integration.agent.agent_floor import Floor, build_floor, connected_call_row

NO_NUMBER = {"en": "no contact number", "fa": "بدون شماره‌ی تماس"}
CALLER_ID_HINT = {"en": "caller ID", "fa": "شمارهٔ نمایشی"}
NOT_BOOKED = {"en": "Not booked yet", "fa": "هنوز ثبت نشده"}


def without_contact_number(session: Session, floor: Floor) -> None:
    campaign = session.get(Campaign, floor.campaign_id)
    agent = session.get(User, floor.agent_id)
    assert campaign is not None and agent is not None
    campaign.caller_id = ""
    agent.direct_number = None
    session.flush()


def shown_text(script: dict[str, Any]) -> str:
    """Everything the script panel can show, step by step."""
    return "\n".join(
        "\n".join([step["prompt"], *step["tips"], *(gap["hint"] for gap in step["gaps"])])
        for step in script["steps"]
    )


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_no_contact_number_is_a_marked_gap_that_says_who_fixes_it(
    session: Session, locale: str
) -> None:
    floor = build_floor(session, locale=locale, customer_locale=locale)
    without_contact_number(session, floor)
    call = connected_call_row(session, floor)

    script = workstation.screen_pop(session, call, now=utcnow())["script"]

    assert "[" not in shown_text(script)
    step_7 = script["steps"][6]
    gap = next(part for part in step_7["prompt_parts"] if part.get("gap") == "contact_number")
    assert gap["label"] == NO_NUMBER[locale] and not gap["pending"]
    [missing] = step_7["gaps"]
    assert missing["name"] == "contact_number"
    assert CALLER_ID_HINT[locale] in missing["hint"]


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_empty_campaign_and_customer_fields_are_gaps_and_the_title_is_left_out(
    session: Session, locale: str
) -> None:
    floor = build_floor(session, locale=locale, customer_locale=locale, email=None)
    campaign = session.get(Campaign, floor.campaign_id)
    customer = session.get(Customer, session.get(Lead, floor.lead_id).customer_id)  # type: ignore[union-attr]
    agent = session.get(User, floor.agent_id)
    assert campaign is not None and customer is not None and agent is not None
    campaign.company_name = campaign.product = campaign.description = ""
    customer.title = ""
    agent.full_name = ""
    session.flush()
    call = connected_call_row(session, floor)

    script = workstation.screen_pop(session, call, now=utcnow())["script"]

    assert "[" not in shown_text(script)
    greeting = script["steps"][0]["prompt"]
    assert customer.last_name in greeting and "  " not in greeting and " ," not in greeting
    gaps = {gap["name"] for step in script["steps"] for gap in step["gaps"]}
    assert gaps == {"agent_name", "company", "product", "benefit", "email"}
    assert all(gap["hint"] for step in script["steps"] for gap in step["gaps"])


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_step_7_waits_for_the_booking_then_reads_the_meeting_back(
    session: Session, locale: str
) -> None:
    floor = build_floor(session, locale=locale, customer_locale=locale)
    call = connected_call_row(session, floor)

    before = workstation.screen_pop(session, call, now=utcnow())["script"]["steps"][6]
    assert NOT_BOOKED[locale] in before["notice"]
    pending = [part["gap"] for part in before["prompt_parts"] if part.get("pending")]
    assert pending == ["appointment_day", "appointment_date", "appointment_time", "place"]
    assert before["gaps"] == [] and "[" not in before["prompt"]

    slot = appointments.propose(session, call, now=utcnow())[0]
    appointment = appointments.book(
        session, call, starts_at=slot.start, kind=MeetingKind.IN_PERSON, address="12 Valiasr St"
    )
    after = workstation.after_booking(session, call, appointment)["script"]["steps"][6]
    popped = workstation.screen_pop(session, call, now=utcnow())["script"]["steps"][6]

    for step in (after, popped):
        assert step["notice"] is None and step["gaps"] == []
        assert all("gap" not in part for part in step["prompt_parts"])
        assert "12 Valiasr St" in step["prompt"] and "[" not in step["prompt"]


def test_the_read_back_leaves_out_a_number_nobody_gave(session: Session) -> None:
    floor = build_floor(session)
    without_contact_number(session, floor)
    call = connected_call_row(session, floor)
    slot = appointments.propose(session, call, now=utcnow())[0]
    appointment = appointments.book(session, call, starts_at=slot.start, kind=MeetingKind.ONLINE)

    read_back = workstation.after_booking(session, call, appointment)["booking"]["read_back"]

    assert read_back.startswith("So we are meeting on") and "direct number" not in read_back


def test_the_campaign_names_its_script_gaps(session: Session) -> None:
    floor = build_floor(session)
    campaign = session.get(Campaign, floor.campaign_id)
    assert campaign is not None
    campaign.caller_id = ""
    session.flush()
    # The floor's agent has a direct number; the other agent has none.
    [gap] = script_gaps.campaign_gaps(session, campaign)
    other = session.get(User, floor.other_agent_id)
    assert other is not None
    assert gap.params == {"agents": other.full_name}

    campaign.caller_id = "+982155554444"
    campaign.product = ""
    session.flush()
    [gap] = script_gaps.campaign_gaps(session, campaign)
    assert "product" in gap.text


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_the_campaign_page_tells_the_manager(
    app: Flask, client: FlaskClient, app_session: Session, locale: str
) -> None:
    floor = build_floor(app_session)
    campaign = app_session.get(Campaign, floor.campaign_id)
    assert campaign is not None
    campaign.caller_id = ""
    manager = make_user(app_session, Role.MANAGER, locale=locale)
    app_session.commit()
    log_in(client, manager.username)

    page = client.get(f"/campaigns/{floor.campaign_id}").get_data(as_text=True)

    assert 'id="script-gaps"' in page
    assert CALLER_ID_HINT[locale] in page.split('id="script-gaps"')[1].split("</div>")[0]

    campaign.caller_id = "+982155554444"
    app_session.commit()
    assert 'id="script-gaps"' not in client.get(f"/campaigns/{floor.campaign_id}").get_data(
        as_text=True
    )
