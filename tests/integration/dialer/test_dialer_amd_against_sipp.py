"""A campaign with answering-machine detection, over real SIP: sipp is a trunk
where every number is a machine (a spoken greeting); the worker hangs up on
each one, no agent is ever reserved or connected, and the verdict and its
time are on each call's row."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.db import Database
from callcenter.events import CallAnswered, CallConnected
from callcenter.models import AgentStateChange, AmdMode, DialMode
from callcenter.services import agents
from callcenter.states import AgentState, AmdAction, AmdResult, CallOutcome, LeadState
from dialer.embedded import DialerThread
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import UaConfig
from tests.integration.dialer.floor import build_floor
from tests.integration.dialer.test_dialer_against_sipp import start_sipp
from tests.integration.sip.conftest import SCENARIOS as SIP_SCENARIOS
from tests.integration.sip.greetings import write_greeting
from tests.integration.sip.helpers import FAST
from tests.support import wait_until as wait_for

pytestmark = pytest.mark.sipp

HOST = "127.0.0.1"
LEADS = 2


def test_machines_are_hung_up_and_never_reach_an_agent(
    sqlite_database: Database, tmp_path: Path
) -> None:
    greeting = write_greeting(tmp_path / "greeting.pcap", speech_s=3.0, silence_s=1.0)
    scenario = tmp_path / "uas_machine.xml"
    scenario.write_text(
        (SIP_SCENARIOS / "uas_answer_play.xml").read_text().replace("[pcap]", str(greeting.pcap))
    )
    trunk_peer = start_sipp(scenario, LEADS, tmp_path / "trunk")
    phones_peer = start_sipp(
        SIP_SCENARIOS / "uas_answer_wait.xml", 1, tmp_path / "phones", "-rtp_echo"
    )
    floor = build_floor(
        sqlite_database,
        agents_count=1,
        leads_count=LEADS,
        dial_mode=DialMode.PROGRESSIVE,
        amd_mode=AmdMode.HANGUP,
    )
    agent_id = floor.agent_ids[0]
    with sqlite_database.unit_of_work() as session:
        phone = f"sip:1001@{HOST}:{phones_peer.port}"
        agents.join_campaign(session, agent_id, floor.campaign_id, phone)
    trunk = SipTrunk(
        SipTrunkConfig(
            ua=UaConfig(trunk_uri=trunk_peer.uri, timers=FAST), keepalive_interval_s=None
        )
    )
    thread = DialerThread(floor.worker(trunk, tick_s=0.2)).start()
    try:
        wait_for(floor.settled, 60, "every lead dialed and every call ended")
    finally:
        thread.stop()
        floor.bus.wait_until_idle()
        floor.bus.stop()
    assert trunk_peer.wait() == 0, trunk_peer.errors()  # each machine got our BYE
    assert phones_peer.wait() == 0, phones_peer.errors()  # the agent's leg, at the end

    calls, leads = floor.rows()
    assert len(calls) == LEADS
    for call in calls:
        assert (call.outcome, call.amd_result, call.amd_action) == (
            CallOutcome.MACHINE,
            AmdResult.MACHINE,
            AmdAction.HUNG_UP,
        )
        assert call.amd_decision_ms is not None and 1500 <= call.amd_decision_ms < 4000
        assert call.answered_at is not None and call.ended_at is not None
        assert call.answered_at < call.ended_at
        assert (call.connected_at, call.agent_id) == (None, None)
    assert all(lead.state is LeadState.RETRY for lead in leads)
    assert [e for e in floor.published if isinstance(e, CallAnswered | CallConnected)] == []
    with sqlite_database.sessions() as session:
        moves = session.scalars(
            select(AgentStateChange.to_state).where(AgentStateChange.agent_id == agent_id)
        ).all()
    assert AgentState.RESERVED not in moves and AgentState.ON_CALL not in moves
