"""The vertical slice over Socket.IO: an injected call pops on the agent's
screen, the agent walks the script, books one of the two offered slots, the
confirmation email with its invite reaches a real SMTP server, the agent sets
the disposition and is ready again."""

from __future__ import annotations

import time
from datetime import datetime

from flask import Flask
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import (
    AgentStateChange,
    AgentStatus,
    Appointment,
    CalendarSlot,
    Disposition,
    FollowUp,
    StepAction,
    StepOutcome,
)
from tests.integration.agent.agent_floor import (
    Floor,
    Inbox,
    end_call,
    inject_connected_call,
    lead_state,
    received,
)


def _ready(socket) -> None:
    joined = socket.emit(
        "join_campaign",
        {"campaign_id": floor_campaign(socket), "phone": "sip:1001@pbx"},
        callback=True,
    )
    assert joined["ok"], joined
    assert socket.emit("go_ready", {}, callback=True)["agent"]["state"] == "ready"


def floor_campaign(socket) -> int:
    return socket._floor.campaign_id


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_injected_call_to_booking_email_disposition_and_ready(
    agent_app: Flask,
    agent_socket,
    floor: Floor,
    app_session: Session,
    smtp_server: tuple[Inbox, int],
) -> None:
    agent_socket._floor = floor
    _ready(agent_socket)
    agent_socket.get_received()

    call_id = inject_connected_call(agent_app, floor)
    pops = received(agent_socket, "screen_pop")
    assert len(pops) == 1
    pop = pops[0]
    assert pop["call"]["id"] == call_id
    assert pop["customer"]["name"] == "Ms Sara Ahmadi"
    assert pop["customer"]["company"] == "Northwind Ltd"
    assert ["segment", "SME"] in pop["lead"]["fields"]
    earlier = pop["history"]["calls"][0]
    assert earlier["id"] == floor.earlier_call_id
    assert earlier["rejection"]["step"] == 4 and earlier["rejection"]["label"] == "No budget"
    assert earlier["notes"] == ["Budget in Q3"]
    steps = pop["script"]["steps"]
    assert len(steps) == 9
    assert "Ms Ahmadi" in steps[0]["prompt"] and "[" not in steps[0]["prompt"]
    assert "Nina Karimi" in steps[1]["prompt"] and "Contoso Software" in steps[1]["prompt"]
    slots = pop["booking"]["slots"]
    assert len(slots) == 2 and slots[0]["label"] in steps[5]["prompt"]

    for kind, step in [("next", None), ("next", None), ("next", None), ("jump", 5), ("back", None)]:
        reply = agent_socket.emit(
            "script_move", {"call_id": call_id, "kind": kind, "step": step}, callback=True
        )
        assert reply["ok"], reply
    assert reply["step"] == 4 and reply["max_step"] == 5
    assert (
        agent_socket.emit("script_move", {"call_id": call_id, "kind": "next"}, callback=True)[
            "step"
        ]
        == 5
    )

    booked = agent_socket.emit(
        "appointment_book",
        {
            "call_id": call_id,
            "starts_at": slots[0]["start"],
            "kind": "in_person",
            "address": "12 Valiasr St, 3rd floor",
        },
        callback=True,
    )
    assert booked["ok"], booked
    assert "12 Valiasr St" in booked["booking"]["read_back"]
    assert "[appointment_day]" not in booked["script"]["steps"][6]["prompt"]
    for _ in range(4):
        agent_socket.emit("script_move", {"call_id": call_id, "kind": "next"}, callback=True)
    agent_socket.emit("notes_save", {"call_id": call_id, "text": "Wants a demo"}, callback=True)

    inbox, _port = smtp_server
    _wait_for(lambda: len(inbox.messages) == 1)
    email = inbox.messages[0]
    assert email["To"] == "sara.ahmadi@example.com"
    assert "Confirming our meeting" in email["Subject"]
    ics = [part for part in email.walk() if part.get_content_type() == "text/calendar"]
    assert len(ics) == 1
    calendar = Calendar.from_ical(ics[0].get_payload(decode=True))
    event = next(iter(calendar.walk("VEVENT")))
    assert event.decoded("dtstart") == datetime.fromisoformat(slots[0]["start"])
    assert "12 Valiasr St" in str(event.get("location"))
    assert str(calendar.get("method")) == "REQUEST"
    _wait_for(lambda: any(name == "follow_up_sent" for name in _names(agent_socket)))

    end_call(agent_app, call_id)
    assert received(agent_socket, "call_ended")[0]["call_id"] == call_id
    done = agent_socket.emit(
        "disposition_set",
        {"call_id": call_id, "code": "appointment_set", "notes": "Wants a demo of payroll"},
        callback=True,
    )
    assert done["ok"], done
    events = agent_socket.get_received()
    assert any(e["name"] == "wrap_up_done" and e["args"][0]["ready"] for e in events)

    app_session.expire_all()
    assert lead_state(app_session, floor.lead_id) == "appointment"
    status = app_session.get(AgentStatus, floor.agent_id)
    assert status is not None and str(status.state) == "ready"
    changes = [
        (str(c.from_state), str(c.to_state))
        for c in app_session.scalars(
            select(AgentStateChange)
            .where(AgentStateChange.agent_id == floor.agent_id)
            .order_by(AgentStateChange.id)
        )
    ]
    assert changes == [
        ("logged_out", "ready"),
        ("ready", "reserved"),
        ("reserved", "on_call"),
        ("on_call", "wrap_up"),
        ("wrap_up", "ready"),
    ]
    path = [
        (row.step_number, row.via)
        for row in app_session.scalars(
            select(StepOutcome)
            .where(StepOutcome.call_id == call_id, StepOutcome.action == StepAction.ENTER)
            .order_by(StepOutcome.seq)
        )
    ]
    assert path[:7] == [
        (1, "start"),
        (2, "next"),
        (3, "next"),
        (4, "next"),
        (5, "jump"),
        (4, "back"),
        (5, "next"),
    ]
    appointment = app_session.scalar(select(Appointment).where(Appointment.call_id == call_id))
    assert appointment is not None
    assert len(list(app_session.scalars(select(CalendarSlot)))) == 2
    follow_up = app_session.scalar(select(FollowUp).where(FollowUp.kind == "email"))
    assert follow_up is not None and str(follow_up.status) == "sent"
    disposition = app_session.scalar(select(Disposition).where(Disposition.call_id == call_id))
    assert disposition is not None and disposition.notes == "Wants a demo of payroll"


def _names(socket) -> list[str]:
    return [item["name"] for item in socket.get_received()]
