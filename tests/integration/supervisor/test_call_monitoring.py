"""Listen, whisper and barge from the live floor, over Socket.IO: who may, what
the dialer is asked, what the agent's screen is told, and the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from callcenter.db import Database
from callcenter.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    Event,
    MonitorEnded,
    MonitorModeChanged,
    MonitorRequested,
    MonitorStarted,
    MonitorStopRequested,
)
from callcenter.extensions import socketio
from callcenter.models import AuditEntry, Campaign, Lead, MonitorSession
from callcenter.services import agents
from callcenter.states import MonitorState
from tests.factories import log_in
from tests.integration.supervisor.busy_hour import Floor, build_floor

PHONE = "sip:2001@pbx"


@pytest.fixture
def site(app: Flask, sqlite_database: Database) -> Floor:
    return build_floor(sqlite_database, agents_count=2, leads=3)


@pytest.fixture
def dialer_asked(app: Flask) -> list[Event]:
    """What the dialer gets on the bus."""
    seen: list[Event] = []
    bus = app.extensions["cc_bus"]
    for event_type in (MonitorRequested, MonitorModeChanged, MonitorStopRequested):
        bus.subscribe(event_type.TYPE, seen.append)
    return seen


def _socket(app: Flask, username: str) -> Any:
    client = app.test_client()
    log_in(client, username)
    socket = socketio.test_client(app, flask_test_client=client)
    assert socket.is_connected()
    return socket


def _live_call(app: Flask, database: Database, site: Floor, call_id: str = "call-m") -> str:
    """A call connected to the site's first agent; the agent's username."""
    agent_id = site.agent_ids[0]
    with database.unit_of_work() as session:
        agents.join_campaign(session, agent_id, site.campaign_id, "sip:1@pbx")
        agents.go_ready(session, agent_id)
        lead_id = session.scalars(
            select(Lead.id).where(Lead.campaign_id == site.campaign_id)
        ).first()
        username = agents.agent_user(session, agent_id).username
    bus = app.extensions["cc_bus"]
    bus.publish(
        CallDialing(call_id=call_id, campaign_id=site.campaign_id, lead_id=lead_id, attempt=1)
    )
    bus.publish(CallAnswered(call_id=call_id))
    bus.publish(CallConnected(call_id=call_id, agent_id=agent_id))
    assert bus.wait_until_idle(10)
    return username


def _named(socket: Any, name: str) -> list[Any]:
    return [item["args"][0] for item in socket.get_received() if item["name"] == name]


def _audit(database: Database) -> list[tuple[str, dict[str, Any]]]:
    with database.read_sessions() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("monitor.%")).order_by(AuditEntry.id)
        )
        return [(row.action, row.details or {}) for row in rows]


def test_listen_whisper_barge_stop_from_the_floor(
    app: Flask, sqlite_database: Database, site: Floor, dialer_asked: list[Event]
) -> None:
    agent_name = _live_call(app, sqlite_database, site)
    supervisor, agent = _socket(app, site.supervisor), _socket(app, agent_name)
    bus = app.extensions["cc_bus"]

    reply = supervisor.emit(
        "floor_monitor_start",
        {"call_id": "call-m", "mode": "listen", "phone": PHONE},
        callback=True,
    )
    assert reply["ok"], reply
    session_id = reply["monitor"]["session_id"]
    assert reply["monitor"]["state"] == "calling"
    assert bus.wait_until_idle(10)
    (asked,) = [e for e in dialer_asked if isinstance(e, MonitorRequested)]
    assert (asked.call_id, asked.phone, asked.mode) == ("call-m", PHONE, "listen")
    assert _named(agent, "monitoring")[-1]["view"]["mode"] == "listen"

    bus.publish(MonitorStarted(session_id=session_id, call_id="call-m"))
    assert bus.wait_until_idle(10)
    assert _named(supervisor, "floor_monitor")[-1]["state"] == "active"

    for mode in ("whisper", "barge"):
        reply = supervisor.emit(
            "floor_monitor_mode", {"session_id": session_id, "mode": mode}, callback=True
        )
        assert reply["ok"] and reply["monitor"]["mode"] == mode, reply
        assert _named(agent, "monitoring")[-1]["view"]["mode"] == mode
    reply = supervisor.emit("floor_monitor_stop", {"session_id": session_id}, callback=True)
    assert reply["ok"] and reply["monitor"]["state"] == "ended", reply
    assert _named(agent, "monitoring")[-1]["view"] is None
    assert bus.wait_until_idle(10)

    assert [type(e) for e in dialer_asked] == [
        MonitorRequested,
        MonitorModeChanged,
        MonitorModeChanged,
        MonitorStopRequested,
    ]
    trail = _audit(sqlite_database)
    assert [action for action, _ in trail] == [
        "monitor.started",
        "monitor.mode_changed",
        "monitor.mode_changed",
        "monitor.ended",
    ]
    assert trail[1][1] == {"session_id": session_id, "from": "listen", "to": "whisper"}
    assert trail[-1][1]["reason"] == "supervisor"


def test_only_the_calls_of_the_supervisors_teams(
    app: Flask, sqlite_database: Database, site: Floor, dialer_asked: list[Event]
) -> None:
    agent_name = _live_call(app, sqlite_database, site)
    other = _socket(app, site.other_supervisor)
    reply = other.emit(
        "floor_monitor_start",
        {"call_id": "call-m", "mode": "listen", "phone": PHONE},
        callback=True,
    )
    assert not reply["ok"] and reply["error"] == "forbidden", reply
    agent = _socket(app, agent_name)
    reply = agent.emit(
        "floor_monitor_start", {"call_id": "call-m", "mode": "barge", "phone": PHONE}, callback=True
    )
    assert not reply["ok"] and reply["error"] == "forbidden", reply
    assert app.extensions["cc_bus"].wait_until_idle(10)
    assert dialer_asked == [] and _audit(sqlite_database) == []


def test_another_supervisors_session_cannot_be_switched_or_stopped(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    _live_call(app, sqlite_database, site)
    mine = _socket(app, site.supervisor)
    reply = mine.emit(
        "floor_monitor_start",
        {"call_id": "call-m", "mode": "listen", "phone": PHONE},
        callback=True,
    )
    session_id = reply["monitor"]["session_id"]
    other = _socket(app, site.other_supervisor)
    for event, data in (
        ("floor_monitor_mode", {"session_id": session_id, "mode": "barge"}),
        ("floor_monitor_stop", {"session_id": session_id}),
    ):
        reply = other.emit(event, data, callback=True)
        assert not reply["ok"] and reply["error"] == "not-found", reply
    reply = mine.emit(
        "floor_monitor_start", {"call_id": "call-m", "mode": "barge", "phone": PHONE}, callback=True
    )
    assert not reply["ok"] and reply["error"] == "conflict", reply  # one phone, one call


def test_a_floor_that_hides_listening_shows_only_whisper_and_barge(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    with sqlite_database.unit_of_work() as session:
        campaign = session.get(Campaign, site.campaign_id)
        assert campaign is not None
        campaign.monitor_listen_hidden = True
    agent_name = _live_call(app, sqlite_database, site)
    supervisor, agent = _socket(app, site.supervisor), _socket(app, agent_name)
    reply = supervisor.emit(
        "floor_monitor_start",
        {"call_id": "call-m", "mode": "listen", "phone": PHONE},
        callback=True,
    )
    assert _named(agent, "monitoring")[-1]["view"] is None
    assert agent.emit("resume", {}, callback=True)["monitoring"] is None
    session_id = reply["monitor"]["session_id"]
    supervisor.emit(
        "floor_monitor_mode", {"session_id": session_id, "mode": "whisper"}, callback=True
    )
    assert _named(agent, "monitoring")[-1]["view"]["mode"] == "whisper"
    assert agent.emit("resume", {}, callback=True)["monitoring"]["mode"] == "whisper"


def test_the_call_or_the_phone_ending_ends_the_session(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    _live_call(app, sqlite_database, site)
    supervisor = _socket(app, site.supervisor)
    bus = app.extensions["cc_bus"]
    reply = supervisor.emit(
        "floor_monitor_start", {"call_id": "call-m", "mode": "barge", "phone": PHONE}, callback=True
    )
    first = reply["monitor"]["session_id"]
    bus.publish(MonitorEnded(session_id=first, call_id="call-m", reason="phone_hung_up"))
    assert bus.wait_until_idle(10)
    reply = supervisor.emit(
        "floor_monitor_start", {"call_id": "call-m", "mode": "listen"}, callback=True
    )
    assert reply["ok"], reply  # the phone they gave last time
    second = reply["monitor"]["session_id"]
    bus.publish(CallEnded(call_id="call-m", outcome="answered", agent_id=site.agent_ids[0]))
    assert bus.wait_until_idle(10)
    with sqlite_database.read_sessions() as session:
        rows = {m.id: m for m in session.scalars(select(MonitorSession))}
        assert rows[first].state is MonitorState.ENDED and rows[first].end_reason == "phone_hung_up"
        assert rows[second].state is MonitorState.ENDED and rows[second].end_reason == "call_ended"
        assert rows[second].phone == PHONE
    reply = supervisor.emit(
        "floor_monitor_start", {"call_id": "call-m", "mode": "listen"}, callback=True
    )
    assert not reply["ok"] and reply["error"] == "conflict", reply  # no call in progress
