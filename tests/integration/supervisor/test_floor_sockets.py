"""The floor over Socket.IO: deltas and snapshots reach the supervisors of
the campaign only, actions are checked, applied and audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from callcenter.db import Database
from callcenter.events import CallAnswered, CallConnected, CallDialing, DialingHeld, HopperDepth
from callcenter.extensions import socketio
from callcenter.models import AuditEntry, Campaign, CampaignStatus, Lead, User
from callcenter.services import agents, phone_legs
from callcenter.services.floor.wiring import live_floor_of
from tests.factories import log_in
from tests.integration.supervisor.busy_hour import Floor, build_floor
from tests.support import wait_until


@pytest.fixture
def site(app: Flask, sqlite_database: Database) -> Floor:
    return build_floor(sqlite_database, agents_count=2, leads=3)


def _socket(app: Flask, username: str) -> Any:
    client = app.test_client()
    log_in(client, username)
    socket = socketio.test_client(app, flask_test_client=client)
    assert socket.is_connected()
    return socket


def _ready_agent(database: Database, site: Floor) -> tuple[int, str]:
    """The site's first agent joined to its campaign and ready: id and username."""
    from callcenter.models import User

    agent_id = site.agent_ids[0]
    with database.unit_of_work() as session:
        agents.join_campaign(session, agent_id, site.campaign_id, "sip:1@pbx")
        agents.go_ready(session, agent_id)
        user = session.get(User, agent_id)
        assert user is not None
        return agent_id, user.username


def _named(received: list[dict[str, Any]], name: str) -> list[Any]:
    return [item["args"][0] for item in received if item["name"] == name]


class FloorFeed:
    """What a supervisor's page knows from the coalesced `floor_delta` pushes
    (the latest state of each call and agent), and every push received."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.received: list[dict[str, Any]] = []
        self.calls: dict[str, dict[str, Any]] = {}
        self.call_states: dict[str, list[str]] = {}
        self.agents: dict[int, dict[str, Any]] = {}

    def take(self) -> list[dict[str, Any]]:
        items = self.socket.get_received()
        self.received.extend(items)
        for delta in _named(items, "floor_delta"):
            for call in delta["calls"]:
                self.calls[call["call_id"]] = call
                self.call_states.setdefault(call["call_id"], []).append(call["state"])
            for agent in delta["agents"]:
                self.agents[agent["agent_id"]] = agent
        return items

    def wait_for(self, condition: Callable[[FloorFeed], bool], what: str) -> None:
        def met() -> bool:
            self.take()
            return condition(self)

        wait_until(met, 10, what)


def _lead(database: Database, campaign_id: int) -> int:
    with database.read_sessions() as session:
        return session.scalars(select(Lead.id).where(Lead.campaign_id == campaign_id)).first()


def test_supervisors_get_deltas_of_their_campaigns_only(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    mine, theirs = _socket(app, site.supervisor), _socket(app, site.other_supervisor)
    bus = app.extensions["cc_bus"]
    agent_id, _ = _ready_agent(sqlite_database, site)
    bus.publish(
        CallDialing(
            call_id="call-a",
            campaign_id=site.campaign_id,
            lead_id=_lead(sqlite_database, site.campaign_id),
            attempt=1,
        )
    )
    bus.publish(CallAnswered(call_id="call-a"))
    bus.publish(CallConnected(call_id="call-a", agent_id=agent_id))
    assert bus.wait_until_idle(10)

    feed = FloorFeed(mine)
    feed.wait_for(
        lambda f: (
            f.calls.get("call-a", {}).get("state") == "connected"
            and f.agents.get(agent_id, {}).get("state") == "on_call"
        ),
        "the connected call and its agent on the supervisor's floor",
    )
    call = feed.calls["call-a"]
    assert call["agent_id"] == agent_id and call["customer"]
    # Coalesced: the call's three changes came in at most three deltas, one
    # per room per second, each with the call's latest state, in order.
    states = feed.call_states["call-a"]
    assert states[-1] == "connected" and states == sorted(
        states, key=["dialing", "answered", "connected"].index
    )
    names = {item["name"] for item in feed.received}
    assert "floor_call" not in names and "agent.state_changed" not in names
    assert theirs.get_received() == []

    live_floor_of(app).tick()
    snapshots = _named(mine.get_received(), "floor_snapshot")
    assert [s["campaign_id"] for s in snapshots] == [site.campaign_id]
    assert snapshots[0]["calls"]["live"] == 1
    assert snapshots[0]["agents"]["on_call"] == 1
    assert [s["campaign_id"] for s in _named(theirs.get_received(), "floor_snapshot")] == [
        site.other_campaign_id
    ]


def test_floor_state_shows_only_the_supervisors_floor(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    mine = _socket(app, site.supervisor)
    state = mine.emit("floor_state", {}, callback=True)
    assert state["ok"] is True
    assert [c["campaign_id"] for c in state["campaigns"]] == [site.campaign_id]
    assert sorted(a["agent_id"] for a in state["agents"]) == sorted(site.agent_ids)
    assert {a["state"] for a in state["agents"]} == {"logged_out"}
    assert state["campaigns"][0]["hopper_depth"] is None
    live_floor_of(app).stop()


def test_an_agent_is_refused_supervisor_events(app: Flask, site: Floor) -> None:
    with app.app_context():
        from callcenter.models import User
        from callcenter.request_scope import session

        username = session().get(User, site.agent_ids[0]).username
    agent = _socket(app, username)
    for name in ("floor_state", "floor_campaign_running", "floor_message"):
        reply = agent.emit(name, {"campaign_id": 1, "agent_id": 1, "text": "x"}, callback=True)
        assert reply["error"] == "forbidden", name


def test_campaign_actions_are_bounded_scoped_and_audited(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    mine, theirs = _socket(app, site.supervisor), _socket(app, site.other_supervisor)
    reply = mine.emit(
        "floor_campaign_running", {"campaign_id": site.campaign_id, "running": False}, callback=True
    )
    assert reply["ok"] and reply["status"] == "paused"
    assert _named(mine.get_received(), "floor_campaign")[-1]["status"] == "paused"
    assert _named(theirs.get_received(), "floor_campaign") == []

    too_high = mine.emit(
        "floor_abandon_cap", {"campaign_id": site.campaign_id, "percent": 3.5}, callback=True
    )
    assert too_high["error"] == "invalid-input"
    ok = mine.emit(
        "floor_abandon_cap", {"campaign_id": site.campaign_id, "percent": "2.5"}, callback=True
    )
    assert ok["abandon_cap"] == 2.5
    mode = mine.emit(
        "floor_dial_mode", {"campaign_id": site.campaign_id, "mode": "predictive"}, callback=True
    )
    assert mode["dial_mode"] == "predictive"
    other = mine.emit(
        "floor_campaign_running", {"campaign_id": site.other_campaign_id, "running": False},
        callback=True,
    )  # fmt: skip
    assert other["error"] == "forbidden"

    with sqlite_database.read_sessions() as session:
        campaign = session.get(Campaign, site.campaign_id)
        assert campaign.status is CampaignStatus.PAUSED
        assert float(campaign.abandon_cap_percent) == 2.5
        assert session.get(Campaign, site.other_campaign_id).status is CampaignStatus.ACTIVE
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["campaign.paused", "campaign.updated", "campaign.updated"]


def test_a_cap_typed_in_persian_digits_is_read_and_a_refusal_is_in_persian(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    with sqlite_database.unit_of_work() as session:
        session.scalar(select(User).where(User.username == site.supervisor)).locale = "fa"
    mine = _socket(app, site.supervisor)
    ok = mine.emit(
        "floor_abandon_cap", {"campaign_id": site.campaign_id, "percent": "۲٫۵"}, callback=True
    )
    assert ok["abandon_cap"] == 2.5
    too_high = mine.emit(
        "floor_abandon_cap", {"campaign_id": site.campaign_id, "percent": "۳٫۵"}, callback=True
    )
    assert too_high["message"] == "سقف تماس‌های رهاشده باید بین ۰ و ۳٫۰ درصد باشد"


def test_force_pause_log_out_and_message_an_agent(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:

    agent_id, username = _ready_agent(sqlite_database, site)
    agent = _socket(app, username)
    mine, theirs = _socket(app, site.supervisor), _socket(app, site.other_supervisor)

    paused = mine.emit(
        "floor_force_pause", {"agent_id": agent_id, "reason": site.pause_reason}, callback=True
    )
    assert paused == {
        "ok": True,
        "agent_id": agent_id,
        "agent_name": "Agent 1",
        "state": "paused",
        "after_call": False,
    }
    sent = mine.emit("floor_message", {"agent_id": agent_id, "text": "Back in 5?"}, callback=True)
    assert sent["sent"] is True
    assert _named(agent.get_received(), "supervisor_message")[-1]["text"] == "Back in 5?"
    out = mine.emit("floor_force_logout", {"agent_id": agent_id}, callback=True)
    assert out["state"] == "logged_out"
    refused = theirs.emit(
        "floor_force_pause", {"agent_id": agent_id, "reason": "break"}, callback=True
    )
    assert refused["error"] == "forbidden"
    with sqlite_database.read_sessions() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["agent.forced_pause", "agent.messaged", "agent.forced_log_out"]
    states = live_floor_of(app).counters.agents()
    assert states[agent_id]["state"] == "logged_out"


def test_call_path_drill_down(app: Flask, sqlite_database: Database, site: Floor) -> None:
    from callcenter.services import workstation

    agent_id, _ = _ready_agent(sqlite_database, site)
    bus = app.extensions["cc_bus"]
    lead_id = _lead(sqlite_database, site.campaign_id)
    bus.publish(
        CallDialing(call_id="call-p", campaign_id=site.campaign_id, lead_id=lead_id, attempt=1)
    )
    bus.publish(CallConnected(call_id="call-p", agent_id=agent_id))
    assert bus.wait_until_idle(10)
    with sqlite_database.unit_of_work() as session:
        workstation.move_step(session, agent_id, "call-p", "next")
    assert live_floor_of(app).counters.get_call("call-p")["step"] == 2
    mine, theirs = _socket(app, site.supervisor), _socket(app, site.other_supervisor)
    path = mine.emit("floor_call_path", {"call_id": "call-p"}, callback=True)
    assert [(s["step"], s["via"]) for s in path["steps"]] == [(1, "start"), (2, "next")]
    assert (
        theirs.emit("floor_call_path", {"call_id": "call-p"}, callback=True)["error"] == "forbidden"
    )


def test_a_pause_over_its_limit_stands_out(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    from datetime import timedelta

    from callcenter.db import utcnow

    agent_id, _ = _ready_agent(sqlite_database, site)
    with sqlite_database.unit_of_work() as session:
        agents.pause(session, agent_id, site.pause_reason)  # limit: 1 minute
    floor = live_floor_of(app)
    floor.refresh_meta(force=True)
    now = utcnow()
    assert floor.snapshot(now)[site.campaign_id]["paused_over_limit"] == 0
    later = floor.snapshot(now + timedelta(minutes=2))[site.campaign_id]
    assert later["paused_over_limit"] == 1
    assert later["agents"]["paused"] == 1
    assert later["dialable_leads"] in (0, 3)  # 0 outside the calling windows


def test_a_held_trunk_is_shown_to_supervisors_with_its_reason(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    mine = _socket(app, site.supervisor)
    mine.emit("floor_state", {}, callback=True)  # loads this supervisor's campaigns
    mine.get_received()
    bus = app.extensions["cc_bus"]
    bus.publish(DialingHeld(trunk="default", held=True, reason="trunk stopped answering OPTIONS"))
    assert bus.wait_until_idle(10)
    held = _named(mine.get_received(), "floor_dialing_held")
    assert held == [{"dialing_held": "default: trunk stopped answering OPTIONS"}]
    live_floor_of(app).tick()
    snapshots = _named(mine.get_received(), "floor_snapshot")
    assert snapshots[0]["dialing_held"] == "default: trunk stopped answering OPTIONS"

    bus.publish(DialingHeld(trunk="default", held=False, reason="trunk healthy again"))
    assert bus.wait_until_idle(10)
    assert _named(mine.get_received(), "floor_dialing_held") == [{"dialing_held": None}]
    live_floor_of(app).stop()


def test_each_trunk_is_held_and_resumed_on_its_own(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    """Two dialers, each on its trunk: one trunk coming back does not hide that
    the other is still held."""
    mine = _socket(app, site.supervisor)
    mine.emit("floor_state", {}, callback=True)
    bus = app.extensions["cc_bus"]
    bus.publish(DialingHeld(trunk="sip:10.0.0.1", held=True, reason="OPTIONS timed out"))
    bus.publish(DialingHeld(trunk="sip:10.0.0.2", held=True, reason="REGISTER refused"))
    bus.publish(DialingHeld(trunk="sip:10.0.0.1", held=False, reason="trunk healthy again"))
    assert bus.wait_until_idle(10)
    assert [held["dialing_held"] for held in _named(mine.get_received(), "floor_dialing_held")] == [
        "sip:10.0.0.1: OPTIONS timed out",
        "sip:10.0.0.1: OPTIONS timed out; sip:10.0.0.2: REGISTER refused",
        "sip:10.0.0.2: REGISTER refused",
    ]
    state = mine.emit("floor_state", {}, callback=True)
    assert state["campaigns"][0]["dialing_held"] == "sip:10.0.0.2: REGISTER refused"
    live_floor_of(app).stop()


def test_the_dialers_hopper_depth_reaches_the_floor(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    mine = _socket(app, site.supervisor)
    mine.emit("floor_state", {}, callback=True)
    bus = app.extensions["cc_bus"]
    bus.publish(HopperDepth(campaign_id=site.campaign_id, depth=117))
    bus.publish(HopperDepth(campaign_id=site.other_campaign_id, depth=5))
    assert bus.wait_until_idle(10)
    mine.get_received()
    live_floor_of(app).tick()
    snapshots = _named(mine.get_received(), "floor_snapshot")
    # The floor's own ticker may have pushed the same snapshot meanwhile.
    assert {(s["campaign_id"], s["hopper_depth"]) for s in snapshots} == {(site.campaign_id, 117)}
    live_floor_of(app).stop()


def test_an_agent_whose_phone_is_lost_shows_on_the_floor_in_the_phone_lost_pause(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    mine = _socket(app, site.supervisor)
    agent_id, _ = _ready_agent(sqlite_database, site)
    with sqlite_database.unit_of_work() as session:
        assert phone_legs.calling(session, agent_id, "agent-leg-1")
    calling = mine.emit("floor_state", {}, callback=True)
    (row,) = [a for a in calling["agents"] if a["agent_id"] == agent_id]
    assert (row["state"], row["phone_leg"]) == ("ready", "calling")  # not yet offered calls
    with sqlite_database.unit_of_work() as session:
        phone_legs.lost(
            session, agent_id, "agent-leg-1", reason="phone did not answer: 486 Busy Here"
        )
    feed = FloorFeed(mine)
    feed.wait_for(
        lambda f: f.agents.get(agent_id, {}).get("state") == "paused",
        "the agent's pause in a floor delta",
    )
    pushed = feed.agents[agent_id]
    assert (pushed["agent_id"], pushed["state"], pushed["pause_reason"]) == (
        agent_id, "paused", "phone_lost",
    )  # fmt: skip

    state = mine.emit("floor_state", {}, callback=True)
    (row,) = [a for a in state["agents"] if a["agent_id"] == agent_id]
    assert (row["state"], row["pause_reason"]) == ("paused", "phone_lost")
    (reason,) = [r for r in state["pause_reasons"] if r["code"] == "phone_lost"]
    assert (reason["label_en"], reason["is_system"]) == ("Phone lost", True)
    refused = mine.emit(
        "floor_force_pause", {"agent_id": site.agent_ids[1], "reason": "phone_lost"}, callback=True
    )
    assert refused["ok"] is False  # set by the product, not chosen by a supervisor


def test_force_pause_of_an_agent_on_a_call_waits_for_its_end(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    from callcenter.events import CallEnded
    from callcenter.models import AgentStatus

    agent_id, username = _ready_agent(sqlite_database, site)
    agent = _socket(app, username)
    mine = _socket(app, site.supervisor)
    bus = app.extensions["cc_bus"]
    lead_id = _lead(sqlite_database, site.campaign_id)
    bus.publish(
        CallDialing(call_id="call-p", campaign_id=site.campaign_id, lead_id=lead_id, attempt=1)
    )
    bus.publish(CallAnswered(call_id="call-p"))
    bus.publish(CallConnected(call_id="call-p", agent_id=agent_id))
    assert bus.wait_until_idle(10)

    paused = mine.emit(
        "floor_force_pause", {"agent_id": agent_id, "reason": site.pause_reason}, callback=True
    )
    assert paused["ok"] is True
    assert (paused["state"], paused["after_call"]) == ("on_call", True)
    told = _named(agent.get_received(), "pause_after_call")[-1]
    assert told["pause_after_call"] == site.pause_reason
    with sqlite_database.unit_of_work() as session:
        agents.go_ready(session, agent_id)  # the agent's Ready does not withdraw it
    bus.publish(CallEnded(call_id="call-p", outcome="answered", agent_id=agent_id))
    assert bus.wait_until_idle(10)
    with sqlite_database.unit_of_work() as session:
        assert session.get(AgentStatus, agent_id).state.value == "wrap_up"
        agents.end_wrap_up(session, agent_id, "call-p", auto_ready=True)
    with sqlite_database.read_sessions() as session:
        status = session.get(AgentStatus, agent_id)
        assert (status.state.value, status.pause_reason) == ("paused", site.pause_reason)
        assert status.pause_forced_by_id is None
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "agent.forced_pause")
        ).one()
    assert entry.details == {"reason": site.pause_reason, "after_call": True}


def test_an_agents_own_ready_still_withdraws_their_own_pause(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    from callcenter.models import AgentStatus

    agent_id, _ = _ready_agent(sqlite_database, site)
    bus = app.extensions["cc_bus"]
    lead_id = _lead(sqlite_database, site.campaign_id)
    bus.publish(
        CallDialing(call_id="call-o", campaign_id=site.campaign_id, lead_id=lead_id, attempt=1)
    )
    bus.publish(CallAnswered(call_id="call-o"))
    bus.publish(CallConnected(call_id="call-o", agent_id=agent_id))
    assert bus.wait_until_idle(10)
    with sqlite_database.unit_of_work() as session:
        agents.pause(session, agent_id, site.pause_reason)
        assert session.get(AgentStatus, agent_id).pause_after_call == site.pause_reason
        agents.go_ready(session, agent_id)
        assert session.get(AgentStatus, agent_id).pause_after_call is None


def _overdue_callback(database: Database, campaign_id: int, agent_id: int, hours: float) -> int:
    from datetime import timedelta

    from callcenter.db import utcnow
    from callcenter.models import Callback
    from callcenter.states import LeadState

    with database.unit_of_work() as session:
        lead = session.scalars(
            select(Lead).where(Lead.campaign_id == campaign_id, Lead.state == LeadState.NEW)
        ).first()
        due = utcnow() - timedelta(hours=hours)
        lead.state, lead.next_attempt_at = LeadState.CALLBACK, due
        callback = Callback(
            lead_id=lead.id,
            customer_id=lead.customer_id,
            campaign_id=campaign_id,
            due_at=due,
            assigned_agent_id=agent_id,
            created_by_id=agent_id,
        )
        session.add(callback)
        session.flush()
        return callback.id


def test_overdue_callbacks_are_on_the_floor_and_reassigned_live(
    app: Flask, sqlite_database: Database, site: Floor
) -> None:
    from callcenter.models import Callback

    late = _overdue_callback(sqlite_database, site.campaign_id, site.agent_ids[0], hours=2)
    _overdue_callback(sqlite_database, site.other_campaign_id, site.other_agent_ids[0], hours=1)
    mine, theirs = _socket(app, site.supervisor), _socket(app, site.other_supervisor)

    state = mine.emit("floor_state", {}, callback=True)
    (shown,) = state["overdue_callbacks"]
    assert (shown["callback_id"], shown["agent_id"]) == (late, site.agent_ids[0])
    assert shown["customer"]

    live_floor_of(app).push_overdue_callbacks([site.campaign_id, site.other_campaign_id])
    pushed = _named(mine.get_received(), "floor_callbacks")
    assert {p["campaign_id"] for p in pushed} == {site.campaign_id}  # (the loop pushes too)
    assert [c["callback_id"] for c in pushed[-1]["callbacks"]] == [late]

    refused = theirs.emit(
        "floor_reassign_callback",
        {"callback_id": late, "agent_id": site.other_agent_ids[0]},
        callback=True,
    )
    assert refused["error"] == "forbidden"
    not_mine = mine.emit(
        "floor_reassign_callback",
        {"callback_id": late, "agent_id": site.other_agent_ids[0]},
        callback=True,
    )
    assert not_mine["error"] == "forbidden"  # an agent of another team
    given = mine.emit(
        "floor_reassign_callback", {"callback_id": late, "agent_id": site.agent_ids[1]},
        callback=True,
    )  # fmt: skip
    assert given["ok"] is True and given["agent_id"] == site.agent_ids[1]
    update = _named(mine.get_received(), "floor_callbacks")[-1]
    assert update == {"campaign_id": site.campaign_id, "callbacks": []}  # due now: not late

    with sqlite_database.read_sessions() as session:
        callback = session.get(Callback, late)
        assert callback.assigned_agent_id == site.agent_ids[1]
        lead = session.get(Lead, callback.lead_id)
        assert lead.next_attempt_at == callback.due_at
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "callback.reassigned")
        ).one()
    assert entry.details["from_agent_id"] == site.agent_ids[0]
    assert entry.details["to_agent_id"] == site.agent_ids[1]

    to_anyone = mine.emit(
        "floor_reassign_callback", {"callback_id": late, "agent_id": ""}, callback=True
    )
    assert to_anyone["ok"] is True and to_anyone["agent_id"] is None
