"""The port's reservation of a ready agent for a call, and letting a reserved
one go, make the agents service's change: the same agent_status row, the
same agent_state_changes row, the same domain event and the same browser
pushes as `agents.change_state` and `agents.release_reserved` made by
themselves (the port reads the rows they need in fewer statements)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from callcenter import after_commit
from callcenter.db import Database
from callcenter.domain_events import AgentStateRecorded
from callcenter.events import CallDialing
from callcenter.models import AgentStateChange, AgentStatus, PauseReason
from callcenter.realtime import BROADCASTER
from callcenter.realtime.coalesce import DELTA_EVENT
from callcenter.realtime.rooms import agent_room, campaign_supervisors_room
from callcenter.services import agents, calls
from callcenter.states import AgentState, Role
from dialer.db_port import DatabaseServices
from tests.factories import make_campaign, make_lead, make_team, make_user
from tests.integration.dialer.floor import ALWAYS_OPEN

NOW = datetime(2025, 1, 4, 8, 0, tzinfo=UTC)
LATER = datetime(2025, 1, 4, 8, 1, tzinfo=UTC)


class Heard:
    """What left each commit: browser emits and the domain events."""

    def __init__(self) -> None:
        self.emits: list[tuple[str, Any, str]] = []
        self.events: list[Any] = []

    def emit(self, event: str, data: Any, *, to: str, namespace: str = "/") -> None:
        self.emits.append((event, data, to))

    def of(self, agent_id: int, call_id: str | None) -> dict[str, Any]:
        """This agent's emits and events, with what differs between two
        agents made alike (their id, phone and call) named, not valued."""
        names = {agent_room(agent_id): "agent:ME", call_id: "CALL"}

        def named(value: Any) -> Any:
            if isinstance(value, dict):
                fields = {key: named(item) for key, item in value.items()}
                if value.get("agent_id") == agent_id:
                    fields.update(agent_id="ME", phone="PHONE", event_id="ID")
                if "closes_at" in value and "timezone" in value:
                    fields["closes_at"] = "7 DAYS FROM THE CLOCK"  # calling hours, from utcnow()
                return fields
            if isinstance(value, list):
                return [named(item) for item in value]
            return names.get(value, value) if isinstance(value, str) else value

        def mine(value: Any) -> bool:
            if isinstance(value, dict):
                return value.get("agent_id") == agent_id or any(map(mine, value.values()))
            return isinstance(value, list) and any(map(mine, value))

        return {
            "emits": [
                (event, named(data), named(room))
                for event, data, room in self.emits
                if mine(data) or room == agent_room(agent_id)
            ],
            "events": [
                named(dataclasses.asdict(event))
                for event in self.events
                if isinstance(event, AgentStateRecorded) and event.agent_id == agent_id
            ],
        }


@pytest.fixture
def heard(database: Database, monkeypatch: pytest.MonkeyPatch) -> Heard:
    heard = Heard()
    sessions = database.sessions
    after_commit.subscribe(sessions, heard.events.extend)

    def with_broadcaster(**kwargs: Any) -> Any:
        return sessions(info={BROADCASTER: heard}, **kwargs)

    monkeypatch.setattr(database, "sessions", with_broadcaster)
    return heard


@dataclasses.dataclass(frozen=True)
class Twins:
    """Two agents ready in one campaign, each with a call dialed for them."""

    port_agent: int
    service_agent: int
    calls: dict[int, str]


@pytest.fixture
def twins(database: Database, heard: Heard) -> Twins:
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(session, teams=[team], calling_windows=ALWAYS_OPEN)
        agent_ids = [make_user(session, Role.AGENT, team=team).id for _ in range(2)]
        leads = [make_lead(session, campaign) for _ in agent_ids]
        campaign_id, lead_ids = campaign.id, [lead.id for lead in leads]
    for agent_id in agent_ids:
        with database.unit_of_work() as session:
            agents.join_campaign(session, agent_id, campaign_id, f"sip:{agent_id}@pbx.example.com")
            agents.go_ready(session, agent_id, now=NOW)
    call_ids = {}
    for agent_id, lead_id in zip(agent_ids, lead_ids, strict=True):
        call_ids[agent_id] = f"call-of-{agent_id}"
        with database.unit_of_work() as session:
            calls.apply_event(
                session,
                CallDialing(
                    call_id=call_ids[agent_id], campaign_id=campaign_id, lead_id=lead_id, attempt=1
                ),
            )
    heard.emits.clear()
    heard.events.clear()
    return Twins(agent_ids[0], agent_ids[1], call_ids)


def rows(database: Database, agent_id: int, call_id: str | None) -> dict[str, Any]:
    def named(value: Any) -> Any:
        return "CALL" if value is not None and value == call_id else value

    with database.sessions() as session:
        status = session.get(AgentStatus, agent_id)
        assert status is not None
        changes = session.scalars(
            select(AgentStateChange)
            .where(AgentStateChange.agent_id == agent_id)
            .order_by(AgentStateChange.id)
        ).all()
        return {
            "status": (
                status.state,
                status.since,
                status.campaign_id,
                status.pause_reason,
                named(status.current_call_id),
                status.pause_after_call,
                status.version,
            ),
            "changes": [
                (c.from_state, c.to_state, c.reason, named(c.call_id), c.at, c.campaign_id)
                for c in changes
            ],
        }


def service_reserves(database: Database, agent_id: int, call_id: str | None) -> None:
    """What the port did before it read the rows it needs together."""
    with database.unit_of_work() as session:
        agents.status_of(session, agent_id, lock=True)
        agents.change_state(
            session, agent_id, AgentState.RESERVED, reason="live answer", call_id=call_id, now=NOW
        )


def service_releases(database: Database, agent_id: int) -> None:
    with database.unit_of_work() as session:
        agents.status_of(session, agent_id, lock=True)
        agents.release_reserved(session, agent_id, reason="call ended before connect", now=LATER)


def same_records(
    database: Database, heard: Heard, twins: Twins, *, call_ids: Callable[[int], str | None]
) -> None:
    port, service = twins.port_agent, twins.service_agent
    assert rows(database, port, call_ids(port)) == rows(database, service, call_ids(service))
    assert heard.of(port, call_ids(port)) == heard.of(service, call_ids(service))


def test_a_reservation_and_its_release_are_the_agents_services_changes(
    database: Database, heard: Heard, twins: Twins
) -> None:
    port = DatabaseServices(database)

    assert port.reserve_agent(
        twins.port_agent, call_id=twins.calls[twins.port_agent], now=NOW, reason="live answer"
    )
    service_reserves(database, twins.service_agent, twins.calls[twins.service_agent])

    reserved = rows(database, twins.port_agent, twins.calls[twins.port_agent])
    assert reserved["status"][:2] == (AgentState.RESERVED, NOW)
    assert reserved["status"][4] == "CALL"
    assert reserved["changes"][-1][:4] == (
        AgentState.READY,
        AgentState.RESERVED,
        "live answer",
        "CALL",
    )
    said = heard.of(twins.port_agent, twins.calls[twins.port_agent])
    campaign_id = reserved["status"][2]
    assert [(event, room) for event, _data, room in said["emits"][-2:]] == [
        (agents.STATE_CHANGED, "agent:ME"),
        (DELTA_EVENT, campaign_supervisors_room(campaign_id)),
    ]
    assert said["emits"][-1][1]["agents"] == [said["emits"][-2][1]]
    assert said["emits"][-2][1]["state"] == "reserved"
    assert said["emits"][-2][1]["call_id"] == "CALL"
    assert said["events"][-1]["to_state"] == "reserved"
    assert said["events"][-1]["call_id"] == "CALL"
    same_records(database, heard, twins, call_ids=twins.calls.get)

    port.release_agent(twins.port_agent, now=LATER, reason="call ended before connect")
    service_releases(database, twins.service_agent)

    released = rows(database, twins.port_agent, twins.calls[twins.port_agent])
    assert released["status"][:2] == (AgentState.READY, LATER)
    same_records(database, heard, twins, call_ids=twins.calls.get)


def test_a_call_whose_row_is_not_written_yet_is_not_named(
    database: Database, heard: Heard, twins: Twins
) -> None:
    port = DatabaseServices(database)

    assert port.reserve_agent(
        twins.port_agent, call_id="not-written", now=NOW, reason="live answer"
    )
    service_reserves(database, twins.service_agent, None)

    status = rows(database, twins.port_agent, None)["status"]
    assert status[0] is AgentState.RESERVED and status[4] is None
    same_records(database, heard, twins, call_ids=lambda _agent: None)


def test_an_agent_no_longer_ready_is_not_reserved(
    database: Database, heard: Heard, twins: Twins
) -> None:
    port = DatabaseServices(database)
    service_reserves(database, twins.port_agent, None)
    before = rows(database, twins.port_agent, None)
    heard.emits.clear()

    assert not port.reserve_agent(
        twins.port_agent, call_id=twins.calls[twins.port_agent], now=LATER, reason="live answer"
    )

    assert rows(database, twins.port_agent, None) == before
    assert heard.emits == []


def test_a_reservation_is_two_statements_and_a_refusal_one(
    database: Database, heard: Heard, twins: Twins
) -> None:
    port = DatabaseServices(database)
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        assert port.reserve_agent(
            twins.port_agent, call_id=twins.calls[twins.port_agent], now=NOW, reason="live answer"
        )
        reserving = [s for s in seen if not s.startswith("BEGIN")]
        seen.clear()
        assert not port.reserve_agent(
            twins.port_agent, call_id=twins.calls[twins.port_agent], now=LATER, reason="again"
        )
        refusing = [s for s in seen if not s.startswith("BEGIN")]
    finally:
        event.remove(database.engine, "before_cursor_execute", count)

    assert [s.split()[0] for s in reserving] == ["UPDATE", "INSERT"]
    assert [s.split()[0] for s in refusing] == ["UPDATE"]


@pytest.fixture
def break_reason(database: Database) -> str:
    """Migration 0010's pause (the PostgreSQL tests empty every table)."""
    with database.unit_of_work() as session:
        if session.get(PauseReason, "break") is None:
            session.add(
                PauseReason(code="break", label_fa="استراحت", label_en="Break", limit_minutes=15)
            )
    return "break"


@pytest.mark.parametrize("state", [AgentState.PAUSED, AgentState.LOGGED_OUT])
def test_an_agent_not_ready_is_refused_with_no_row_written(
    database: Database, heard: Heard, twins: Twins, break_reason: str, state: AgentState
) -> None:
    with database.unit_of_work() as session:
        if state is AgentState.PAUSED:
            agents.pause(session, twins.port_agent, "break", now=NOW)
        else:
            agents.log_out(session, twins.port_agent, now=NOW)
    before = rows(database, twins.port_agent, None)
    heard.emits.clear()
    heard.events.clear()

    assert not DatabaseServices(database).reserve_agent(
        twins.port_agent, call_id=twins.calls[twins.port_agent], now=LATER, reason="live answer"
    )

    assert rows(database, twins.port_agent, None) == before
    assert before["status"][0] is state
    assert heard.emits == [] and heard.events == []


def test_a_reservation_racing_a_pause_waits_for_it_and_then_refuses(
    database: Database, heard: Heard, twins: Twins, break_reason: str
) -> None:
    """The pause holds the agent's row (PostgreSQL's row lock, SQLite's write
    lock): the reservation waits, then finds the agent paused and writes nothing."""
    port = DatabaseServices(database)
    answers: list[bool] = []

    def reserve() -> None:
        call_id = twins.calls[twins.port_agent]
        answers.append(port.reserve_agent(twins.port_agent, call_id=call_id, now=LATER, reason="x"))

    reserving = threading.Thread(target=reserve)
    with database.unit_of_work() as session:
        agents.pause(session, twins.port_agent, "break", now=NOW)
        reserving.start()
        reserving.join(0.5)
        assert reserving.is_alive(), "the reservation did not wait for the pause's lock"
    reserving.join(10)

    assert answers == [False]
    status, changes = rows(database, twins.port_agent, None).values()
    assert status[:2] == (AgentState.PAUSED, NOW) and status[3] == "break"
    assert [change[:2] for change in changes][-1] == (AgentState.READY, AgentState.PAUSED)
    assert not [e for e in heard.events if e.to_state == "reserved"]
