"""An agent is ready only while their phone leg is up, against real phones:
sipp peers are the agents' phones (one refuses the leg, one answers and then
hangs up) and another sipp is the trunk the customers answer on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import AgentStateChange, AgentStatus, AuditEntry, Campaign, DialMode
from callcenter.services import agents, phone_legs
from callcenter.states import AgentState, CallOutcome, CallState, PhoneLegState, Role
from dialer.embedded import DialerThread
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import UaConfig
from dialer.worker import DialerWorker
from tests.factories import make_campaign, make_lead, make_team, make_user
from tests.integration.dialer.floor import (
    ALWAYS_OPEN,
    AgentsFinishing,
    Floor,
    build_floor,
)
from tests.integration.dialer.test_dialer_against_sipp import AgentsHangingUp
from tests.integration.dialer.topology import (
    Process,
    environment,
    logged_in_socket,
    start_dialer,
    start_sipp_peer,
    start_web,
)
from tests.integration.sip.conftest import HOST, Sipp
from tests.integration.sip.conftest import SCENARIOS as SIP_SCENARIOS
from tests.integration.sip.helpers import FAST
from tests.support import wait_until as wait_for

pytestmark = pytest.mark.sipp

HERE = Path(__file__).parent / "scenarios"


@contextmanager
def peers(*started: Sipp) -> Iterator[None]:
    """The sipp peers of a test, killed at its end (they serve until then)."""
    try:
        yield
    finally:
        for peer in started:
            if peer.process.poll() is None:
                peer.process.kill()
            peer.process.wait()


def floor_with_phones(
    database: Database, phones: list[str], *, leads: int, **campaign: object
) -> Floor:
    """A progressive campaign with `leads` leads and one ready agent per phone."""
    floor = build_floor(
        database,
        agents_count=len(phones),
        leads_count=0,
        dial_mode=DialMode.PROGRESSIVE,
        auto_ready_after_wrap_up=True,
        **campaign,
    )
    with database.unit_of_work() as session:
        row = session.get(Campaign, floor.campaign_id)
        assert row is not None
        for _ in range(leads):
            make_lead(session, row)
        for agent_id, phone in zip(floor.agent_ids, phones, strict=True):
            agents.join_campaign(session, agent_id, row.id, phone)
    return floor


def sip_worker(floor: Floor, trunk_peer: Sipp, **config: object) -> DialerWorker:
    trunk = SipTrunk(
        SipTrunkConfig(
            ua=UaConfig(trunk_uri=trunk_peer.uri, timers=FAST), keepalive_interval_s=None
        )
    )
    return floor.worker(trunk, tick_s=0.2, **config)


def invites(peer: Sipp) -> list[str]:
    return [line for line in peer.sent_and_received() if line.startswith("received INVITE")]


def agent_row(database: Database, agent_id: int) -> AgentStatus:
    with database.sessions() as session:
        row = agents.status_of(session, agent_id)
        session.expunge(row)
        return row


def state_changes(database: Database, agent_id: int) -> list[tuple[str, str, str | None]]:
    with database.sessions() as session:
        rows = session.scalars(
            select(AgentStateChange)
            .where(AgentStateChange.agent_id == agent_id)
            .order_by(AgentStateChange.id)
        )
        return [(str(r.from_state), str(r.to_state), r.reason) for r in rows]


def phone_lost(database: Database, agent_id: int) -> bool:
    row = agent_row(database, agent_id)
    return row.state is AgentState.PAUSED and row.pause_reason == agents.PHONE_LOST


def test_an_agent_whose_phone_refuses_the_leg_is_never_given_a_customer(
    sqlite_database: Database, tmp_path: Path
) -> None:
    database = sqlite_database
    trunk_peer = start_sipp_peer(
        SIP_SCENARIOS / "uas_answer_wait.xml", tmp_path / "trunk", "-rtp_echo"
    )
    # Rings for 4 s, then 486: customers are answered meanwhile.
    busy_phone = start_sipp_peer(HERE / "uas_agent_phone_busy.xml", tmp_path / "busy", "-d", "4000")
    good_phone = start_sipp_peer(HERE / "uas_agent_phone.xml", tmp_path / "good", "-rtp_echo")
    # The whole address is dialed: the longest the field takes.
    user = "7" * (agents.MAX_PHONE_LENGTH - len(f"sip:@{HOST}:{good_phone.port}"))
    long_address = f"sip:{user}@{HOST}:{good_phone.port}"
    assert len(long_address) == agents.MAX_PHONE_LENGTH
    floor = floor_with_phones(
        database, [f"sip:1001@{HOST}:{busy_phone.port}", long_address], leads=3
    )
    refusing, answering = floor.agent_ids
    worker = sip_worker(floor, trunk_peer)
    finishing, hanging_up = AgentsFinishing(database), AgentsHangingUp(floor)
    with peers(trunk_peer, busy_phone, good_phone):
        finishing.start()
        hanging_up.start()
        thread = DialerThread(worker).start()
        try:
            wait_for(
                lambda: any(r.connected_at for r in floor.rows()[0]),
                20,
                "a customer connected to the agent whose phone answered",
            )
            assert agent_row(database, refusing).phone_leg is PhoneLegState.CALLING
            wait_for(lambda: phone_lost(database, refusing), 20, "the phone_lost pause")
            wait_for(floor.settled, 60, "every lead dialed and every call finished")
            assert len(invites(busy_phone)) == 1  # not called again while paused
        finally:
            thread.stop()
            hanging_up.stop()
            finishing.stop()
            floor.bus.wait_until_idle()
            floor.bus.stop()
    assert finishing.errors == []

    calls, _ = floor.rows()
    assert len(calls) == 3
    for call in calls:
        assert call.outcome is CallOutcome.ANSWERED and call.connected_at is not None
        assert call.agent_id == answering
    assert state_changes(database, refusing) == [
        ("logged_out", "ready", None),
        ("ready", "paused", "phone_lost"),
    ]
    row = agent_row(database, refusing)
    assert (row.phone_leg, row.phone_leg_detail) == (
        PhoneLegState.LOST, "phone did not answer: 486 Busy Here",
    )  # fmt: skip
    with database.sessions() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == phone_legs.LOST))
        assert [(a.target_id, a.details["reason"]) for a in audit] == [
            (str(refusing), "phone did not answer: 486 Busy Here")
        ]
    (invite,) = invites(good_phone)
    assert invite == f"received INVITE {long_address} SIP/2.0"
    assert agent_row(database, answering).phone_leg is PhoneLegState.DOWN  # hung up at stop


def test_a_phone_that_hangs_up_during_a_call_ends_it_and_pauses_the_agent_after_wrap_up(
    sqlite_database: Database, tmp_path: Path
) -> None:
    database = sqlite_database
    trunk_peer = start_sipp_peer(
        SIP_SCENARIOS / "uas_answer_wait.xml", tmp_path / "trunk", "-rtp_echo"
    )
    phone = start_sipp_peer(
        HERE / "uas_agent_phone_hangs_up.xml", tmp_path / "phone", "-d", "2500", "-rtp_echo"
    )
    floor = floor_with_phones(database, [f"sip:1001@{HOST}:{phone.port}"], leads=1)
    (agent_id,) = floor.agent_ids
    worker = sip_worker(floor, trunk_peer)
    finishing = AgentsFinishing(database)
    with peers(trunk_peer, phone):
        finishing.start()
        thread = DialerThread(worker).start()
        try:
            wait_for(lambda: phone_lost(database, agent_id), 30, "the phone_lost pause")
            wait_for(floor.settled, 10, "the call finished")
            assert len(invites(phone)) == 1
            with database.unit_of_work() as session:  # "call my phone again"
                agents.go_ready(session, agent_id)
            wait_for(lambda: len(invites(phone)) == 2, 10, "the phone called again")
            wait_for(
                lambda: agent_row(database, agent_id).phone_leg is PhoneLegState.UP,
                10,
                "the new leg up",
            )
        finally:
            thread.stop()
            finishing.stop()
            floor.bus.wait_until_idle()
            floor.bus.stop()
    assert finishing.errors == [] and finishing.done == 1

    (call,) = floor.rows()[0]
    assert call.outcome is CallOutcome.ANSWERED and call.agent_id == agent_id
    assert call.connected_at is not None
    assert call.sip_reason == "agent phone hung up: remote hangup"
    assert [line for line in trunk_peer.sent_and_received() if "BYE" in line] == [
        "received BYE sip:127.0.0.1:" + str(trunk_peer.port) + " SIP/2.0"
    ]
    assert state_changes(database, agent_id)[1:] == [
        ("ready", "reserved", "live answer"),
        ("reserved", "on_call", None),
        ("on_call", "wrap_up", None),
        ("wrap_up", "paused", "phone_lost"),
        ("paused", "ready", None),
    ]


def test_a_phone_lost_before_the_customer_answers_leaves_the_answer_abandoned(
    sqlite_database: Database, tmp_path: Path
) -> None:
    database = sqlite_database
    # The customer answers after 2.5 s; the agent's phone hangs up after 1 s.
    trunk_peer = start_sipp_peer(
        HERE / "uas_trunk_ring_then_answer.xml", tmp_path / "trunk", "-d", "2500", "-rtp_echo"
    )
    phone = start_sipp_peer(
        HERE / "uas_agent_phone_hangs_up.xml", tmp_path / "phone", "-d", "1000", "-rtp_echo"
    )
    floor = floor_with_phones(database, [f"sip:1001@{HOST}:{phone.port}"], leads=1)
    (agent_id,) = floor.agent_ids
    worker = sip_worker(floor, trunk_peer, abandon_after_s=1.0)
    with peers(trunk_peer, phone):
        thread = DialerThread(worker).start()
        try:
            wait_for(floor.settled, 30, "the call finished")
        finally:
            thread.stop()
            floor.bus.wait_until_idle()
            floor.bus.stop()

    (call,) = floor.rows()[0]
    assert call.state is CallState.ENDED and call.outcome is CallOutcome.ABANDONED
    assert call.answered_at is not None and call.connected_at is None
    assert phone_lost(database, agent_id)
    assert ("ready", "reserved", "live answer") not in state_changes(database, agent_id)
    assert any(line.startswith("received BYE") for line in trunk_peer.sent_and_received())


class AgentScreen:
    """A logged-in agent's workstation: the page's Socket.IO connection,
    recording every `agent.state_changed` push."""

    def __init__(self, base_url: str, username: str) -> None:
        self.pushes: list[dict[str, Any]] = []
        self.http, self.client = logged_in_socket(
            base_url, username, {"agent.state_changed": self.pushes.append}
        )

    def send(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        reply: dict[str, Any] = self.client.call(event, data or {}, timeout=20)
        assert reply.get("ok"), reply
        return reply

    def close(self) -> None:
        self.client.disconnect()
        self.http.close()


def test_across_processes_the_agents_screen_follows_the_leg_the_dialer_holds(
    postgres_database: Database, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """The production topology: `callcenter dialer` calls the phone and
    writes each step of the leg; the agent's screen, served by gunicorn,
    hears of it through Redis."""
    database = postgres_database
    trunk_peer = start_sipp_peer(HERE / "uas_trunk_keepalive.xml", tmp_path / "trunk")
    busy_phone = start_sipp_peer(HERE / "uas_agent_phone_busy.xml", tmp_path / "busy", "-d", "1500")
    with database.unit_of_work() as session:
        team = make_team(session)
        campaign = make_campaign(
            session, teams=[team], dial_mode=DialMode.PROGRESSIVE, calling_windows=ALWAYS_OPEN
        )
        agent = make_user(session, Role.AGENT, team=team, locale="en")
        campaign_id, agent_id, username = campaign.id, agent.id, agent.username
    env = environment(
        postgres_url,
        redis_url,
        tmp_path / "instance",
        dialer__keepalive_seconds="0.5",
        dialer__sip_t1_seconds="0.1",
    )
    processes: list[Process] = []
    screen: AgentScreen | None = None
    with peers(trunk_peer, busy_phone):
        try:
            web, base_url = start_web(env, tmp_path)
            processes.append(web)
            processes.append(
                start_dialer(
                    env,
                    tmp_path,
                    "--carrier",
                    "sip",
                    "--trunk-uri",
                    trunk_peer.uri,
                    "--tick",
                    "0.2",
                )
            )
            screen = AgentScreen(base_url, username)
            phone = f"sip:1001@{HOST}:{busy_phone.port}"
            screen.send("join_campaign", {"campaign_id": campaign_id, "phone": phone})
            assert screen.send("go_ready")["agent"]["phone_leg"] == "down"
            wait_for(
                lambda: any(p["phone_leg"] == "calling" for p in screen.pushes if screen),
                20,
                "the screen told the dialer is calling the phone",
            )
            wait_for(
                lambda: any(p["pause_reason"] == "phone_lost" for p in screen.pushes if screen),
                20,
                "the screen told the phone is lost",
            )
            resumed = screen.send("resume")["agent"]
        finally:
            if screen is not None:
                screen.close()
            for process in reversed(processes):
                process.stop()
    legs = [p["phone_leg"] for p in screen.pushes]
    assert legs[legs.index("calling") :] == ["calling", "lost"]
    assert (resumed["state"], resumed["pause_reason"], resumed["phone_leg"]) == (
        "paused", "phone_lost", "lost",
    )  # fmt: skip
    assert resumed["phone_leg_detail"] == "phone did not answer: 486 Busy Here"
    assert phone_lost(database, agent_id)
    assert len(invites(busy_phone)) == 1
