"""The transfer rules over the agent's Socket.IO events: only the agent's own
live call, an outside number only past the do-not-call list and calling
hours (the manual dial's own checks), only a ready agent of the campaign,
one transfer at a time; each request audited and sent to the dialer; the
dialer's report moves both agents and pops the closer's screen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.events import TransferProgressed, TransferRequested
from callcenter.models import AuditEntry, Call, CallTransfer, Campaign, DncEntry
from callcenter.services import agents, phone_legs
from callcenter.states import AgentState, TransferState
from tests.integration.agent.agent_floor import Floor, inject_connected_call, received
from tests.integration.agent.test_agent_work import connect_as, ready_with_phone


def _requests(app: Flask) -> list[TransferRequested]:
    seen: list[TransferRequested] = []
    app.extensions["cc_bus"].subscribe(TransferRequested.TYPE, seen.append)
    return seen


def _other_ready(app: Flask, floor: Floor, database: Database) -> Any:
    other = connect_as(app, floor.other_username)
    assert other.emit(
        "join_campaign", {"campaign_id": floor.campaign_id, "phone": "1002"}, callback=True
    )["ok"]
    assert other.emit("go_ready", {}, callback=True)["ok"]
    with database.unit_of_work() as session:
        assert phone_legs.calling(session, floor.other_agent_id, "leg-2")
        phone_legs.answered(session, floor.other_agent_id, "leg-2")
    return other


def test_an_agent_transfers_only_their_own_live_call_within_the_rules(
    agent_app: Flask, agent_socket: Any, floor: Floor, sqlite_database: Database
) -> None:
    requests = _requests(agent_app)
    ready_with_phone(agent_socket, floor, sqlite_database)
    other = _other_ready(agent_app, floor, sqlite_database)
    nothing_live = agent_socket.emit(
        "transfer_start",
        {"call_id": floor.earlier_call_id, "kind": "blind", "target": "number",
         "to_number": "09121110000"},
        callback=True,
    )  # fmt: skip
    assert nothing_live["ok"] is False and nothing_live["error"] == "forbidden"
    with sqlite_database.unit_of_work() as session:  # the other agent's call
        agents.change_state(session, floor.other_agent_id, AgentState.PAUSED, reason="break")
    call_id = inject_connected_call(agent_app, floor)
    agent_socket.get_received()

    targets = agent_socket.emit("transfer_targets", {}, callback=True)
    assert targets["agents"] == []  # the other agent is paused
    assert [team["id"] for team in targets["teams"]]

    def start(**data: Any) -> dict[str, Any]:
        reply: dict[str, Any] = agent_socket.emit(
            "transfer_start", {"call_id": call_id, **data}, callback=True
        )
        return reply

    paused = start(kind="blind", target="agent", to_agent_id=floor.other_agent_id)
    assert paused["error"] == "conflict" and "not ready" in paused["message"]
    with sqlite_database.unit_of_work() as session:
        session.add(DncEntry(phone_e164="+989121110000", source="test"))
    blocked = start(kind="blind", target="number", to_number="0912 111 0000")
    assert blocked["error"] == "number-refused" and blocked["details"]["reason"] == "dnc"
    tehran_today = utcnow().astimezone(ZoneInfo("Asia/Tehran")).date()
    with sqlite_database.unit_of_work() as session:
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        campaign.holidays = [tehran_today.isoformat()]
    closed = start(kind="blind", target="number", to_number="09127654321")
    assert closed["error"] == "number-refused" and closed["details"]["reason"] == "window"
    warm_outside = start(kind="warm", target="number", to_number="09127654321")
    assert warm_outside["error"] == "invalid-input"
    assert requests == []

    with sqlite_database.unit_of_work() as session:
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        campaign.holidays = []
    assert other.emit("go_ready", {}, callback=True)["ok"]
    started = start(kind="warm", target="agent", to_agent_id=floor.other_agent_id)
    assert started["ok"] and started["transfer"]["state"] == "requested"
    again = start(kind="blind", target="number", to_number="09127654321")
    assert again["error"] == "conflict"
    early = agent_socket.emit(
        "transfer_action",
        {"transfer_id": started["transfer"]["id"], "action": "hand_over"},
        callback=True,
    )
    assert early["error"] == "conflict"  # the other agent is not on the line yet
    not_theirs = other.emit(
        "transfer_action",
        {"transfer_id": started["transfer"]["id"], "action": "cancel"},
        callback=True,
    )
    assert not_theirs["error"] == "forbidden"
    agent_app.extensions["cc_bus"].wait_until_idle()
    (request,) = requests
    assert (request.kind, request.to_agent_id, request.call_id) == (
        "warm", floor.other_agent_id, call_id,
    )  # fmt: skip
    with sqlite_database.sessions() as session:
        assert agents.status_of(session, floor.other_agent_id).state is AgentState.RESERVED
        audit = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("transfer.%"))
        ).all()
        assert audit == ["transfer.requested"]

    # What the dialer says after the consult and the hand-over.
    bus = agent_app.extensions["cc_bus"]
    transfer_id = started["transfer"]["id"]
    bus.publish(TransferProgressed(transfer_id=transfer_id, call_id=call_id, state="consulting"))
    bus.wait_until_idle()
    handed = agent_socket.emit(
        "transfer_action", {"transfer_id": transfer_id, "action": "hand_over"}, callback=True
    )
    assert handed["ok"]
    later = utcnow() + timedelta(seconds=1)
    bus.publish(
        TransferProgressed(
            transfer_id=transfer_id, call_id=call_id, state="completed", occurred_at=later
        )
    )
    bus.wait_until_idle()
    (closer_pop,) = received(other, "screen_pop")
    assert closer_pop["call"]["id"] == call_id
    changes = [t["state"] for t in received(agent_socket, "transfer_changed")]
    assert changes[-2:] == ["consulting", "completed"]
    with sqlite_database.sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None and (call.opened_by_id, call.agent_id) == (
            floor.agent_id, floor.other_agent_id,
        )  # fmt: skip
        assert agents.status_of(session, floor.agent_id).state is AgentState.WRAP_UP
        assert agents.status_of(session, floor.other_agent_id).state is AgentState.ON_CALL
        transfer = session.get(CallTransfer, transfer_id)
        assert transfer is not None and transfer.state is TransferState.COMPLETED
    # The opener may no longer touch the call; the closer may.
    gone = agent_socket.emit("notes_save", {"call_id": call_id, "text": "x"}, callback=True)
    assert gone["error"] == "forbidden"
    assert other.emit("notes_save", {"call_id": call_id, "text": "mine"}, callback=True)["ok"]
    other.disconnect()
