"""Meetings booked into a salesperson's calendar (chosen from the campaign's
team, or whoever of them is free), and the outcome the salesperson records:
held, no-show, moved, sold with its amount. The reports read them: the
funnel's later stages, the close rate, openers and closers."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.errors import Forbidden, InvalidInput
from callcenter.models import (
    Appointment,
    AppointmentStatusChange,
    AuditEntry,
    CalendarSlot,
    Call,
    Campaign,
    FollowUp,
    Lead,
    MeetingKind,
    User,
)
from callcenter.services import appointments, meetings
from callcenter.services.reports import agents_report, funnel_report
from callcenter.services.reports.filters import ReportFilters
from callcenter.states import (
    AppointmentStatus,
    IllegalTransition,
    LeadState,
    Role,
)
from tests.factories import log_in, make_lead, make_team, make_user
from tests.integration.agent.agent_floor import (
    Floor,
    build_floor,
    connected_call_row,
    inject_connected_call,
    received,
)
from tests.integration.agent.test_agent_workstation import ready


def _call(session: Session, floor: Floor, lead_id: int | None = None) -> Call:
    return connected_call_row(session, floor, lead_id)


def _salespeople(session: Session, floor: Floor, count: int = 2) -> list[User]:
    agent = session.get(User, floor.agent_id)
    assert agent is not None
    people = []
    for number in range(count):
        person = make_user(session, Role.AGENT, team=agent.team, full_name=f"Closer {number}")
        person.is_salesperson = True
        people.append(person)
    session.flush()
    return people


def _another_lead(session: Session, floor: Floor) -> int:
    campaign = session.get(Campaign, floor.campaign_id)
    assert campaign is not None
    return make_lead(session, campaign).id


def test_the_offered_slots_are_free_in_some_salesperson_calendar(database: Database) -> None:
    with database.sessions() as session:
        floor = build_floor(session)
        first, second = _salespeople(session, floor)
        call = _call(session, floor)
        offered = appointments.propose(session, call)
        assert len(offered) == 2
        assert set(offered[0].free_for) == {first.id, second.id}
        # The earliest slot taken in both calendars: it is offered no more.
        for person in (first, second):
            appointments.book(
                session,
                _call(session, floor, _another_lead(session, floor)),
                starts_at=offered[0].start,
                kind=MeetingKind.ONLINE,
                salesperson_id=person.id,
            )
        assert appointments.propose(session, call)[0].start != offered[0].start
        only_first = appointments.propose(session, call, salesperson_id=first.id)
        assert all(slot.free_for == (first.id,) for slot in only_first)


def test_whoever_is_free_with_the_fewest_meetings_gets_it(database: Database) -> None:
    with database.sessions() as session:
        floor = build_floor(session)
        busy, idle = _salespeople(session, floor)
        call = _call(session, floor)
        slots = appointments.list_free(session, call)
        appointments.book(
            session,
            _call(session, floor, _another_lead(session, floor)),
            starts_at=slots[5].start,
            kind=MeetingKind.ONLINE,
            salesperson_id=busy.id,
        )
        meeting = appointments.book(
            session, call, starts_at=slots[0].start, kind=MeetingKind.ONLINE
        )
        assert meeting.owner_id == idle.id
        assert meeting.booked_by_id == floor.agent_id


def test_a_salesperson_outside_the_campaign_team_is_refused(database: Database) -> None:
    with database.sessions() as session:
        floor = build_floor(session)
        _salespeople(session, floor, 1)
        stranger = make_user(session, Role.AGENT, team=make_team(session))
        stranger.is_salesperson = True
        call = _call(session, floor)
        slot = appointments.propose(session, call)[0]
        with pytest.raises(InvalidInput) as refused:
            appointments.book(
                session, call, starts_at=slot.start, kind=MeetingKind.ONLINE,
                salesperson_id=stranger.id,
            )  # fmt: skip
        assert refused.value.text == "choose a salesperson of this campaign's team"


def test_the_salesperson_records_a_sale_with_its_amount(database: Database) -> None:
    with database.sessions() as session:
        floor = build_floor(session)
        (closer,) = _salespeople(session, floor, 1)
        call = _call(session, floor)
        slot = appointments.propose(session, call)[0]
        meeting = appointments.book(session, call, starts_at=slot.start, kind=MeetingKind.ONLINE)
        lead = session.get(Lead, floor.lead_id)
        assert lead is not None
        lead.state = LeadState.APPOINTMENT  # as the agent's disposition leaves it
        session.flush()
        sold = meetings.parse_outcome({"outcome": "sold", "sale_amount": "۱۲٬۵۰۰٬۰۰۰"})
        with pytest.raises(InvalidInput):  # not before the meeting
            meetings.record_outcome(session, meeting.id, sold, actor=closer, now=utcnow())
        with pytest.raises(Forbidden):
            other = session.get(User, floor.other_agent_id)
            assert other is not None
            meetings.record_outcome(
                session, meeting.id, sold, actor=other, now=slot.end + timedelta(minutes=5)
            )
        meetings.record_outcome(
            session, meeting.id, sold, actor=closer, now=slot.end + timedelta(minutes=5)
        )
        assert meeting.status is AppointmentStatus.SOLD
        assert meeting.sale_amount == Decimal(12_500_000)
        history = session.scalars(
            select(AppointmentStatusChange.to_status)
            .where(AppointmentStatusChange.appointment_id == meeting.id)
            .order_by(AppointmentStatusChange.id)
        ).all()
        assert history == ["booked", "held", "sold"]
        assert str(lead.state) == "sale"
        assert (
            session.scalar(select(CalendarSlot).where(CalendarSlot.owner_id == closer.id)) is None
        )
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "appointment.outcome"))
        assert entry is not None and entry.actor_id == closer.id
        assert entry.details["to"] == "sold" and entry.details["sale_amount"] == "12500000"
        with pytest.raises(IllegalTransition):
            meetings.record_outcome(
                session, meeting.id, meetings.parse_outcome({"outcome": "no_show"}),
                actor=closer, now=slot.end + timedelta(hours=1),
            )  # fmt: skip


@pytest.mark.parametrize("amount", ["", "abc", "-5", "0", "1.5"])
def test_a_sale_needs_a_whole_positive_amount(amount: str) -> None:
    with pytest.raises(InvalidInput):
        meetings.parse_outcome({"outcome": "sold", "sale_amount": amount})


def test_a_moved_meeting_is_a_new_one_in_the_same_calendar(database: Database) -> None:
    with database.sessions() as session:
        floor = build_floor(session)
        closer, _ = _salespeople(session, floor)
        call = _call(session, floor)
        first, later = appointments.list_free(session, call, salesperson_id=closer.id)[0:8:7]
        meeting = appointments.book(
            session, call, starts_at=first.start, kind=MeetingKind.IN_PERSON,
            address="Valiasr St 12", salesperson_id=closer.id,
        )  # fmt: skip
        moved = meetings.record_outcome(
            session,
            meeting.id,
            meetings.parse_outcome(
                {"outcome": "rescheduled", "new_start": later.start.isoformat()}
            ),
            actor=closer,
        )
        assert meeting.status is AppointmentStatus.RESCHEDULED
        assert moved.rescheduled_from_id == meeting.id and moved.owner_id == closer.id
        assert moved.starts_at == later.start and moved.location == "Valiasr St 12"
        # The customer is told the new time, as at booking.
        told = session.scalars(select(FollowUp.kind).where(FollowUp.appointment_id == moved.id))
        assert "email" in told.all()
        held = session.scalars(
            select(CalendarSlot.slot_start).where(CalendarSlot.owner_id == closer.id)
        ).all()
        assert held == [later.start, later.start + timedelta(minutes=30)]
        groups = meetings.my_meetings(session, closer, "en")
        assert [row["id"] for row in groups["coming"]] == [moved.id]
        assert [row["id"] for row in groups["recorded"]] == [meeting.id]


def test_reports_count_held_meetings_sales_and_the_closer(database: Database) -> None:
    with database.sessions() as session:
        floor = build_floor(session)
        (closer,) = _salespeople(session, floor, 1)
        outcomes = ["sold", "not_sold", "no_show"]  # the second held first, decided later
        booked = []
        for _ in outcomes:
            call = _call(session, floor, _another_lead(session, floor))
            slot = appointments.propose(session, call)[0]
            booked.append(
                appointments.book(session, call, starts_at=slot.start, kind=MeetingKind.ONLINE)
            )
        later = max(meeting.ends_at for meeting in booked) + timedelta(hours=1)
        held = meetings.parse_outcome({"outcome": "held"})
        meetings.record_outcome(session, booked[1].id, held, actor=closer, now=later)
        due = meetings.my_meetings(session, closer, "en", now=later)["due"]
        assert [(row["id"], row["status"]) for row in due] == [
            (booked[0].id, "booked"), (booked[1].id, "held"), (booked[2].id, "booked"),
        ]  # fmt: skip
        for meeting, outcome in zip(booked, outcomes, strict=True):
            form = {"outcome": outcome, "sale_amount": "5000000"}
            meetings.record_outcome(
                session, meeting.id, meetings.parse_outcome(form), actor=closer, now=later
            )
        session.commit()
        report = agents_report(session, ReportFilters())
        rows = {row.agent_id: row for row in report.rows}
        opener, closing = rows[floor.agent_id], rows[closer.id]
        assert opener.appointments == 3 and opener.role == "opener"
        assert closing.owned_appointments == 3 and closing.held_appointments == 2
        assert closing.sold_appointments == 1 and closing.role == "closer"
        assert closing.close_rate == pytest.approx(1 / 3)
        assert closing.sales_amount == 5_000_000 and opener.sales_amount == 0
        funnel = funnel_report(session, ReportFilters(), "en")
        assert funnel.total is not None
        counts = dict(zip([stage.key for stage in funnel.stages], funnel.total.counts, strict=True))
        assert (counts["appointments"], counts["held"], counts["sales"]) == (3, 2, 1)


# --- through the socket and the pages -------------------------------------------------


def test_the_agent_books_through_the_socket_with_a_chosen_salesperson(
    agent_app: Flask, agent_socket: Any, floor: Floor, app_session: Session
) -> None:
    closer, other = _salespeople(app_session, floor)
    app_session.commit()
    ready(agent_socket, floor)
    call_id = inject_connected_call(agent_app, floor)
    pop = received(agent_socket, "screen_pop")[-1]
    assert [p["name"] for p in pop["booking"]["salespeople"]] == ["Closer 0", "Closer 1"]
    offered = agent_socket.emit(
        "booking_slots", {"call_id": call_id, "salesperson_id": str(other.id)}, callback=True
    )
    assert offered["ok"] and len(offered["slots"]) == 2, offered
    step_six = next(step for step in offered["script"]["steps"] if step["number"] == 6)
    assert offered["slots"][0]["label"] in step_six["prompt"]
    wrong = agent_socket.emit(
        "booking_slots", {"call_id": call_id, "salesperson_id": "x"}, callback=True
    )
    assert not wrong["ok"] and wrong["error"] == "invalid-input"
    booked = agent_socket.emit(
        "appointment_book",
        {"call_id": call_id, "starts_at": offered["slots"][0]["start"], "kind": "online",
         "salesperson_id": str(other.id)},
        callback=True,
    )  # fmt: skip
    assert booked["ok"], booked
    assert booked["booking"]["appointment"]["salesperson"] == "Closer 1"
    app_session.expire_all()
    meeting = app_session.scalar(select(Appointment).where(Appointment.call_id == call_id))
    assert meeting is not None and meeting.owner_id == other.id != closer.id


def test_only_the_salesperson_records_on_the_page(
    agent_app: Flask, floor: Floor, app_session: Session
) -> None:
    closer, other = _salespeople(app_session, floor)
    call = _call(app_session, floor)
    slot = appointments.propose(app_session, call, now=utcnow() - timedelta(days=6))[0]
    meeting = appointments.book(
        app_session, call, starts_at=slot.start, kind=MeetingKind.ONLINE,
        salesperson_id=closer.id, now=utcnow() - timedelta(days=6),
    )  # fmt: skip
    app_session.commit()
    sold = {"outcome": "sold", "sale_amount": "9000000"}
    stranger = agent_app.test_client()
    log_in(stranger, other.username)
    assert stranger.get("/agent/meetings").status_code == 200
    assert f"meeting-{meeting.id}" not in stranger.get("/agent/meetings").get_data(as_text=True)
    assert stranger.post(f"/agent/meetings/{meeting.id}/outcome", data=sold).status_code == 403
    assert stranger.post("/agent/meetings/999999/outcome", data=sold).status_code == 404
    owner = agent_app.test_client()
    log_in(owner, closer.username)
    refused = owner.post(
        f"/agent/meetings/{meeting.id}/outcome",
        data={"outcome": "sold", "sale_amount": "lots"},
        follow_redirects=True,
    )
    # The salesperson reads Persian: the service's error is shown translated.
    assert "مبلغ فروش را به ریال" in refused.get_data(as_text=True)
    assert owner.post(f"/agent/meetings/{meeting.id}/outcome", data=sold).status_code == 302
    page = owner.get("/agent/meetings").get_data(as_text=True)
    assert "۹٬۰۰۰٬۰۰۰ ریال" in page and 'id="recorded"' in page
    app_session.expire_all()
    assert app_session.get(Appointment, meeting.id).status is AppointmentStatus.SOLD  # type: ignore[union-attr]


def test_the_reports_page_and_export_show_the_closer(
    agent_app: Flask, floor: Floor, app_session: Session
) -> None:
    (closer,) = _salespeople(app_session, floor, 1)
    then = utcnow() - timedelta(days=6)
    call = _call(app_session, floor)
    slot = appointments.propose(app_session, call, now=then)[0]
    meeting = appointments.book(
        app_session, call, starts_at=slot.start, kind=MeetingKind.ONLINE, now=then
    )
    meetings.record_outcome(
        app_session,
        meeting.id,
        meetings.parse_outcome({"outcome": "sold", "sale_amount": "7500000"}),
        actor=closer,
    )
    manager = make_user(app_session, Role.MANAGER, locale="en")
    app_session.commit()
    client = agent_app.test_client()
    log_in(client, manager.username)
    page = client.get("/supervisor/reports", query_string={"report": "agents"})
    table = page.get_data(as_text=True).split("<h2>Agent performance</h2>", 1)[1]
    closer_row = next(row for row in table.split("<tr") if "Closer 0" in row)
    assert "7,500,000" in closer_row and ">Closer<" in closer_row and "100" in closer_row
    opener_row = next(row for row in table.split("<tr") if "Nina Karimi" in row)
    assert ">Opener<" in opener_row
    export = client.get("/supervisor/reports/export", query_string={"kind": "agents"})
    lines = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0] == ["Agent performance"]
    header = lines[1]
    closer_line = next(line for line in lines if line[0] == "Closer 0")
    assert closer_line[header.index("Sales amount (rials)")] == "7500000"
    assert closer_line[header.index("Appointments sold")] == "1"
    assert closer_line[header.index("Opener or closer")] == "Closer"
