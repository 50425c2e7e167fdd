"""The agent's own work over the Socket.IO test client: the dial pad and its
refusals (in English and Persian), lead search limited to the agent's
campaigns, editing a customer (audited), the other number, and the agent's
callbacks (list, reschedule, cancel, the due-now alert)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.models import (
    AuditEntry,
    Callback,
    CallbackStatus,
    Campaign,
    Customer,
    DncEntry,
    Lead,
    User,
)
from callcenter.services import my_callbacks, phone_legs
from callcenter.states import LeadState
from tests.factories import make_campaign, make_customer, make_lead, make_team
from tests.integration.agent.agent_floor import Floor, connect_as, received
from tests.integration.dialer.floor import ALWAYS_OPEN


def ready_with_phone(socket, floor: Floor, database: Database) -> None:
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        campaign.calling_windows = ALWAYS_OPEN
    assert socket.emit(
        "join_campaign", {"campaign_id": floor.campaign_id, "phone": "1001"}, callback=True
    )["ok"]
    assert socket.emit("go_ready", {}, callback=True)["ok"]
    with database.unit_of_work() as session:
        assert phone_legs.calling(session, floor.agent_id, "leg-1")
        phone_legs.answered(session, floor.agent_id, "leg-1")


def test_dial_pad_refuses_what_must_not_be_called_and_says_why(
    agent_app: Flask, agent_socket, floor: Floor, sqlite_database: Database
) -> None:
    not_joined = agent_socket.emit("manual_dial", {"number": "09121234567"}, callback=True)
    assert not_joined["ok"] is False and "campaign" in not_joined["message"]
    ready_with_phone(agent_socket, floor, sqlite_database)
    junk = agent_socket.emit("manual_dial", {"number": "12ab"}, callback=True)
    assert junk["error"] == "invalid-input" and "12ab" in junk["message"]
    with sqlite_database.unit_of_work() as session:
        session.add(DncEntry(phone_e164="+989121234567", source="test"))
    blocked = agent_socket.emit("manual_dial", {"number": "0912 123 4567"}, callback=True)
    assert blocked["error"] == "number-refused" and blocked["details"]["reason"] == "dnc"
    assert "do-not-call" in blocked["message"]
    tehran_today = utcnow().astimezone(ZoneInfo("Asia/Tehran")).date()
    with sqlite_database.unit_of_work() as session:
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        campaign.holidays = [tehran_today.isoformat()]
    closed = agent_socket.emit("manual_dial", {"number": "09127654321"}, callback=True)
    assert closed["error"] == "number-refused" and closed["details"]["reason"] == "window"
    assert "outside calling hours" in closed["message"]
    with sqlite_database.unit_of_work() as session:
        agent = session.get(User, floor.agent_id)
        assert agent is not None
        agent.locale = "fa"
    persian = connect_as(agent_app, floor.agent_username)
    in_persian = persian.emit("manual_dial", {"number": "09127654321"}, callback=True)
    assert "ساعت" in in_persian["message"] and "outside" not in in_persian["message"]
    dnc_fa = persian.emit("manual_dial", {"number": "09121234567"}, callback=True)
    assert "تماس" in dnc_fa["message"] and "do-not-call" not in dnc_fa["message"]
    persian.disconnect()
    state = agent_socket.emit("resume", {}, callback=True)["agent"]["state"]
    assert state == "ready"  # nothing refused held the agent


def test_dial_pad_holds_the_agent_and_asks_the_dialer(
    agent_app: Flask, agent_socket, floor: Floor, sqlite_database: Database
) -> None:
    requested: list = []
    agent_app.extensions["cc_bus"].subscribe("manual_dial.requested", requested.append)
    ready_with_phone(agent_socket, floor, sqlite_database)
    reply = agent_socket.emit("manual_dial", {"number": "+98 912 555 0101"}, callback=True)
    assert reply["ok"], reply
    assert reply["agent"]["state"] == "reserved"
    assert agent_app.extensions["cc_bus"].wait_until_idle()
    (event,) = requested
    assert (event.agent_id, event.campaign_id, event.phone_e164) == (
        floor.agent_id,
        floor.campaign_id,
        "+989125550101",
    )
    again = agent_socket.emit("manual_dial", {"number": "09125550102"}, callback=True)
    assert again["ok"] is False and again["error"] == "conflict"
    with sqlite_database.sessions() as session:
        lead = session.get(Lead, event.lead_id)
        # Claimed for the agent's call with the request: the predictive
        # dialer cannot take it before the dialer places the manual call.
        assert lead is not None and lead.state is LeadState.DIALING
        assert lead.attempts == event.attempt == 1
        assert lead.customer.phone_e164 == "+989125550101"
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "manual_dial.requested" in actions


def test_lead_search_finds_by_name_or_either_number_in_the_agents_campaigns_only(
    agent_socket, floor: Floor, sqlite_database: Database
) -> None:
    with sqlite_database.unit_of_work() as session:
        elsewhere = make_campaign(session, teams=[make_team(session)])
        make_lead(session, elsewhere, make_customer(session, last_name="Ahmadzadeh"))
        customer = session.get(Customer, floor.customer_id)
        assert customer is not None
        customer.phone2_e164 = "+989351112233"
        first = customer.phone_e164
    by_name = agent_socket.emit("lead_search", {"query": "ahmad"}, callback=True)["results"]
    assert {row["customer_id"] for row in by_name} == {floor.customer_id}
    persian_digits = "".join("۰۱۲۳۴۵۶۷۸۹"[int(d)] for d in "0" + first[3:])
    by_number = agent_socket.emit("lead_search", {"query": persian_digits}, callback=True)
    assert [row["customer_id"] for row in by_number["results"]][:1] == [floor.customer_id]
    by_second = agent_socket.emit("lead_search", {"query": "0935 111 2233"}, callback=True)
    assert {row["customer_id"] for row in by_second["results"]} == {floor.customer_id}
    short = agent_socket.emit("lead_search", {"query": "a"}, callback=True)
    assert short["error"] == "invalid-input"
    card = agent_socket.emit("customer_open", {"customer_id": floor.customer_id}, callback=True)
    assert card["details"]["phone2"] == "+989351112233"
    assert card["history"]["calls"], "the whole history comes with the card"


def test_customer_details_are_edited_audited_and_the_other_number_is_dialed(
    agent_app: Flask, agent_socket, floor: Floor, sqlite_database: Database
) -> None:
    bad = agent_socket.emit(
        "customer_update",
        {"customer_id": floor.customer_id, "changes": {"email": "not-an-email"}},
        callback=True,
    )
    assert bad["error"] == "invalid-input" and bad["details"]["field"] == "email"
    with sqlite_database.unit_of_work() as session:
        taken = make_customer(session).phone_e164
    clash = agent_socket.emit(
        "customer_update",
        {"customer_id": floor.customer_id, "changes": {"phone2": taken}},
        callback=True,
    )
    assert clash["ok"] is False and clash["details"]["field"] == "phone2"
    reply = agent_socket.emit(
        "customer_update",
        {
            "customer_id": floor.customer_id,
            "changes": {
                "title": "mrs",
                "first_name": "Sarah",
                "email": "sarah@example.com",
                "phone2": "۰۹۱۹ ۸۸۸ ۷۷۶۶",
            },
        },
        callback=True,
    )
    assert reply["ok"], reply
    assert reply["details"]["phone2"] == "+989198887766"
    assert reply["details"]["first_name"] == "Sarah" and reply["details"]["title"] == "Ms"
    with sqlite_database.sessions() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.updated")
        ).one()
        assert entry.actor_id == floor.agent_id
        assert entry.details["before"]["first_name"] == "Sara"
        assert entry.details["after"]["phone2"] == "+989198887766"
    requested: list = []
    agent_app.extensions["cc_bus"].subscribe("manual_dial.requested", requested.append)
    ready_with_phone(agent_socket, floor, sqlite_database)
    dialed = agent_socket.emit(
        "dial_customer", {"customer_id": floor.customer_id, "which": "second"}, callback=True
    )
    assert dialed["ok"], dialed
    assert agent_app.extensions["cc_bus"].wait_until_idle()
    assert [(e.lead_id, e.phone_e164) for e in requested] == [(floor.lead_id, "+989198887766")]


def test_another_teams_customer_is_not_the_agents(
    agent_socket, floor: Floor, sqlite_database: Database
) -> None:
    with sqlite_database.unit_of_work() as session:
        elsewhere = make_campaign(session, teams=[make_team(session)])
        stranger = make_lead(session, elsewhere).customer_id
    for event, data in (
        ("customer_open", {"customer_id": stranger}),
        ("customer_update", {"customer_id": stranger, "changes": {"first_name": "X"}}),
        ("dial_customer", {"customer_id": stranger}),
    ):
        reply = agent_socket.emit(event, data, callback=True)
        assert reply["ok"] is False and reply["error"] in ("not-found", "invalid-input"), event


def test_my_callbacks_listed_rescheduled_cancelled_and_alerted_when_due(
    agent_app: Flask, agent_socket, floor: Floor, sqlite_database: Database
) -> None:
    now = utcnow()
    with sqlite_database.unit_of_work() as session:
        lead = session.get(Lead, floor.lead_id)
        assert lead is not None
        lead.state = LeadState.CALLBACK
        lead.next_attempt_at = now + timedelta(hours=2)
        other_lead = make_lead(
            session,
            session.get(Campaign, floor.campaign_id),
            make_customer(session, first_name="Reza", last_name="Moradi"),
            state=LeadState.CALLBACK,
        )
        due_soon = Callback(
            lead_id=lead.id,
            customer_id=lead.customer_id,
            campaign_id=floor.campaign_id,
            due_at=now + timedelta(hours=2),
            assigned_agent_id=floor.agent_id,
            created_by_id=floor.agent_id,
        )
        due_now = Callback(
            lead_id=other_lead.id,
            customer_id=other_lead.customer_id,
            campaign_id=floor.campaign_id,
            due_at=now - timedelta(minutes=1),
            assigned_agent_id=floor.agent_id,
            created_by_id=floor.agent_id,
        )
        someone_elses = Callback(
            lead_id=other_lead.id,
            customer_id=other_lead.customer_id,
            campaign_id=floor.campaign_id,
            due_at=now - timedelta(minutes=1),
            assigned_agent_id=floor.other_agent_id,
            created_by_id=floor.other_agent_id,
        )
        session.add_all([due_soon, due_now, someone_elses])
        session.flush()
        soon_id, now_id, theirs_id = due_soon.id, due_now.id, someone_elses.id
    listed = agent_socket.emit("callbacks_mine", {}, callback=True)["callbacks"]
    assert [(c["id"], c["is_due"]) for c in listed] == [(now_id, True), (soon_id, False)]
    assert "(" in listed[0]["due"], "the due time in both calendars"

    with sqlite_database.unit_of_work() as session:
        assert my_callbacks.alert_due(session) == 2  # this agent's and the other agent's
    with sqlite_database.unit_of_work() as session:
        assert my_callbacks.alert_due(session) == 0  # once
    alerts = received(agent_socket, "callback_due")
    assert [a["id"] for a in alerts] == [now_id]

    later = (now + timedelta(days=1)).isoformat()
    past = agent_socket.emit(
        "callback_reschedule", {"callback_id": soon_id, "due_at": now.isoformat()}, callback=True
    )
    assert past["error"] == "invalid-input"
    moved = agent_socket.emit(
        "callback_reschedule", {"callback_id": now_id, "due_at": later}, callback=True
    )
    assert [c["id"] for c in moved["callbacks"]] == [soon_id, now_id]
    theirs = agent_socket.emit("callback_cancel", {"callback_id": theirs_id}, callback=True)
    assert theirs["error"] == "not-found"
    cancelled = agent_socket.emit("callback_cancel", {"callback_id": soon_id}, callback=True)
    assert [c["id"] for c in cancelled["callbacks"]] == [now_id]
    with sqlite_database.sessions() as session:
        moved_row = session.get(Callback, now_id)
        assert moved_row is not None and moved_row.alerted_at is None
        assert moved_row.due_at == datetime_of(later)
        lead = session.get(Lead, floor.lead_id)
        assert lead is not None and lead.state is LeadState.RETRY
        cancelled_row = session.get(Callback, soon_id)
        assert cancelled_row is not None and cancelled_row.status is CallbackStatus.CANCELLED
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"callback.rescheduled", "callback.cancelled"} <= actions


def datetime_of(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_supervisor_cannot_dial_or_search_as_an_agent(agent_app: Flask, floor: Floor) -> None:
    supervisor = connect_as(agent_app, floor.supervisor_username)
    for event in ("manual_dial", "lead_search", "callbacks_mine", "customer_update"):
        reply = supervisor.emit(event, {}, callback=True)
        assert reply["ok"] is False and reply["error"] == "forbidden", event


def test_a_callback_is_dialed_in_the_campaign_it_was_booked_in(
    agent_app: Flask, agent_socket, floor: Floor, sqlite_database: Database
) -> None:
    requested: list = []
    agent_app.extensions["cc_bus"].subscribe("manual_dial.requested", requested.append)
    with sqlite_database.unit_of_work() as session:
        elsewhere = make_lead(
            session, session.get(Campaign, floor.other_campaign_id), state=LeadState.CALLBACK
        )
        rows = [
            Callback(
                lead_id=lead_id,
                customer_id=customer_id,
                campaign_id=campaign_id,
                due_at=utcnow() + timedelta(hours=1),
                assigned_agent_id=floor.agent_id,
                created_by_id=floor.agent_id,
            )
            for lead_id, customer_id, campaign_id in (
                (floor.lead_id, floor.customer_id, floor.campaign_id),
                (elsewhere.id, elsewhere.customer_id, floor.other_campaign_id),
            )
        ]
        session.add_all(rows)
        session.flush()
        here, there = (row.id for row in rows)
    ready_with_phone(agent_socket, floor, sqlite_database)
    refused = agent_socket.emit("dial_callback", {"callback_id": there}, callback=True)
    assert refused["error"] == "conflict" and "switch to it" in refused["message"]
    dialed = agent_socket.emit("dial_callback", {"callback_id": here}, callback=True)
    assert dialed["ok"], dialed
    assert agent_app.extensions["cc_bus"].wait_until_idle()
    assert [e.lead_id for e in requested] == [floor.lead_id]
