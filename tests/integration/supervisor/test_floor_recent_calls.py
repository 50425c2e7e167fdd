"""The floor's recent calls: in the floor state at connect, then in the
per-second snapshot of a campaign only when its list changed (a call ended,
its recording was stored): never a push of its own per call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from callcenter.db import Database
from callcenter.events import CallAnswered, CallConnected, CallDialing, CallEnded
from callcenter.extensions import socketio
from callcenter.models import Call, Lead, User
from callcenter.services import agents
from callcenter.services.floor.wiring import live_floor_of
from callcenter.services.recent_calls import recent_calls
from callcenter.states import Role
from tests.factories import log_in, make_user
from tests.integration.recording.recorded_calls import record_call
from tests.integration.supervisor.busy_hour import Floor, build_floor


@pytest.fixture
def site(app: Flask, sqlite_database: Database) -> Floor:
    return build_floor(sqlite_database, agents_count=1, leads=3)


def _socket(app: Flask, username: str) -> Any:
    client = app.test_client()
    log_in(client, username)
    socket = socketio.test_client(app, flask_test_client=client)
    assert socket.is_connected()
    return socket


def _named(received: list[dict[str, Any]], name: str) -> list[Any]:
    return [item["args"][0] for item in received if item["name"] == name]


def _talked_call(app: Flask, database: Database, site: Floor, call_id: str) -> None:
    agent_id = site.agent_ids[0]
    with database.unit_of_work() as session:
        agents.join_campaign(session, agent_id, site.campaign_id, "sip:1@pbx")
        agents.go_ready(session, agent_id)
    with database.read_sessions() as session:
        lead_id = session.scalars(
            select(Lead.id).where(Lead.campaign_id == site.campaign_id)
        ).first()
    bus = app.extensions["cc_bus"]
    bus.publish(
        CallDialing(call_id=call_id, campaign_id=site.campaign_id, lead_id=lead_id, attempt=1)
    )
    bus.publish(CallAnswered(call_id=call_id))
    bus.publish(CallConnected(call_id=call_id, agent_id=agent_id))
    bus.publish(CallEnded(call_id=call_id, outcome="answered", talk_seconds=42))
    assert bus.wait_until_idle(10)


def test_an_ended_call_and_then_its_recording_reach_the_floor_in_the_snapshot(
    app: Flask, sqlite_database: Database, site: Floor, tmp_path: Path
) -> None:
    floor = live_floor_of(app)
    mine, theirs = _socket(app, site.supervisor), _socket(app, site.other_supervisor)
    state = mine.emit("floor_state", {}, callback=True)
    floor.stop()
    assert state["recent_calls"] == []
    assert state["hearing_team_ids"] and len(state["hearing_team_ids"]) == 1
    floor.tick()  # whatever was pending before the call
    mine.get_received(), theirs.get_received()

    _talked_call(app, sqlite_database, site, "recent-1")
    floor.tick()
    [snapshot] = _named(mine.get_received(), "floor_snapshot")
    [row] = snapshot["recent_calls"]
    assert row["call_id"] == "recent-1"
    assert row["agent_id"] == site.agent_ids[0] and row["agent"]
    assert row["customer"] and row["outcome"] == "answered"
    assert row["recorded"] is False
    assert all("recent_calls" not in s for s in _named(theirs.get_received(), "floor_snapshot"))

    floor.tick()  # nothing changed: the list is not sent again
    [snapshot] = _named(mine.get_received(), "floor_snapshot")
    assert "recent_calls" not in snapshot

    with sqlite_database.unit_of_work() as session:
        call = session.get(Call, "recent-1")
        assert call is not None
        record_call(session, app.extensions["cc_recording_store"], call, tmp_path)
    floor.tick()
    [snapshot] = _named(mine.get_received(), "floor_snapshot")
    assert [r["recorded"] for r in snapshot["recent_calls"]] == [True]

    again = mine.emit("floor_state", {}, callback=True)
    floor.stop()
    assert [(r["call_id"], r["recorded"]) for r in again["recent_calls"]] == [("recent-1", True)]


def test_the_list_is_the_last_calls_newest_first_and_managers_hear_all(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    _talked_call(app, sqlite_database, site, "recent-2")
    with sqlite_database.read_sessions() as session:
        rows = recent_calls(session, [site.campaign_id, site.other_campaign_id], limit=5)
    assert [r["call_id"] for r in rows[site.campaign_id]] == ["recent-2"]
    assert rows[site.other_campaign_id] == []
    with sqlite_database.unit_of_work() as session:
        manager = make_user(session, Role.MANAGER).username
        supervisor = session.scalar(select(User).where(User.username == site.supervisor))
        assert supervisor is not None
        teams = [team.id for team in supervisor.supervised]
    state = _socket(app, manager).emit("floor_state", {}, callback=True)
    live_floor_of(app).stop()
    assert state["hearing_team_ids"] is None
    assert [r["call_id"] for r in state["recent_calls"]] == ["recent-2"]
    state = _socket(app, site.supervisor).emit("floor_state", {}, callback=True)
    live_floor_of(app).stop()
    assert state["hearing_team_ids"] == teams
    assert state["recent_calls"][0]["agent_team_id"] in teams
