"""Hostile customer text reaches the agent's screen as data (the browser
test shows it is drawn as text) and the printable letter escaped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.models import Customer, FollowUp
from callcenter.scheduling import SlotRules, free_slots
from tests.factories import log_in
from tests.hostile_text import SCRIPT, assert_shown_escaped, tag
from tests.integration.agent.agent_floor import Floor, inject_connected_call, received
from tests.integration.agent.test_agent_workstation import ready

FIRST, LAST = tag("first_name"), tag("last_name")
COMPANY, ADDRESS, CITY = tag("company"), SCRIPT, tag("city")
PLACE = tag("place") + SCRIPT


def test_screen_pop_carries_the_text_as_typed_and_the_letter_escapes_it(
    agent_app: Flask, agent_socket: Any, floor: Floor, app_session: Session
) -> None:
    with agent_app.extensions["cc_database"].unit_of_work() as session:
        customer = session.get(Customer, floor.customer_id)
        assert customer is not None
        customer.first_name, customer.last_name = FIRST, LAST
        customer.company, customer.address, customer.city = COMPANY, ADDRESS, CITY
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    [pop] = received(agent_socket, "screen_pop")
    assert FIRST in pop["customer"]["name"] and LAST in pop["customer"]["name"]
    assert pop["customer"]["company"] == COMPANY  # not escaped twice: the screen draws text

    later = utcnow() + timedelta(days=4)
    start = free_slots(later, (), SlotRules(), limit=1)[0].start.isoformat()
    booked = agent_socket.emit(
        "appointment_book",
        {"call_id": call_id, "starts_at": start, "kind": "in_person", "address": PLACE},
        callback=True,
    )
    assert booked["ok"], booked
    assert PLACE in booked["booking"]["read_back"]
    letter = app_session.scalar(select(FollowUp).where(FollowUp.kind == "letter"))
    assert letter is not None
    supervisor = agent_app.test_client()
    log_in(supervisor, floor.supervisor_username)
    page = supervisor.get(f"/agent/letters/{letter.id}")
    assert page.status_code == 200
    assert_shown_escaped(page.get_data(as_text=True), FIRST, LAST, COMPANY, ADDRESS, CITY, PLACE)
