"""The worker over real SIP: sipp is the trunk (busy for some numbers, answering
the others) and a second sipp is the agents' phones, whose legs the worker
nails up and bridges the answered customers into."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.db import Database
from callcenter.events import CallHangupRequested
from callcenter.models import Call, Campaign, DialMode
from callcenter.services import agents
from callcenter.states import CallOutcome, LeadState
from dialer.embedded import DialerThread
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import UaConfig
from tests.factories import make_customer, make_lead
from tests.integration.dialer.floor import AgentsFinishing, Floor, build_floor
from tests.integration.dialer.topology import start_sipp_peer
from tests.integration.sip.conftest import SCENARIOS as SIP_SCENARIOS
from tests.integration.sip.conftest import Sipp
from tests.integration.sip.helpers import FAST
from tests.support import wait_until as wait_for

pytestmark = pytest.mark.sipp

HERE = Path(__file__).parent / "scenarios"
HOST = "127.0.0.1"
# Numbers ending in 1 get 486 from the trunk scenario; the others answer.
PHONES = ["+989120000101", "+989120000102", "+989120000103", "+989120000111", "+989120000104"]


def start_sipp(scenario: Path, calls: int, workdir: Path, *extra: str) -> Sipp:
    """A sipp peer that serves `calls` calls, then exits (90 s at the most)."""
    limits = ("-m", str(calls), "-timeout", "90s", "-timeout_error")
    return start_sipp_peer(scenario, workdir, *limits, *extra)


class AgentsHangingUp(threading.Thread):
    """Each connected call is ended by its agent (the hang-up button) shortly after."""

    def __init__(self, floor: Floor) -> None:
        super().__init__(name="agents-hanging-up", daemon=True)
        self.floor = floor
        self.asked: set[str] = set()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.2):
            with self.floor.database.sessions() as session:
                connected = session.execute(
                    select(Call.id, Call.agent_id).where(Call.connected_at.is_not(None))
                ).all()
            for call_id, agent_id in connected:
                if call_id not in self.asked:
                    self.asked.add(call_id)
                    self.floor.bus.publish(CallHangupRequested(call_id=call_id, agent_id=agent_id))

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def test_worker_over_sip_against_sipp(
    sqlite_database: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trunk_peer = start_sipp(HERE / "uas_trunk_mixed.xml", len(PHONES), tmp_path / "trunk")
    phones_peer = start_sipp(
        SIP_SCENARIOS / "uas_answer_wait.xml", 2, tmp_path / "phones", "-rtp_echo"
    )
    floor = build_floor(
        sqlite_database, agents_count=2, leads_count=0, dial_mode=DialMode.PROGRESSIVE
    )
    with sqlite_database.unit_of_work() as session:
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        for phone in PHONES:
            make_lead(session, campaign, make_customer(session, phone_e164=phone))
        for number, agent_id in enumerate(floor.agent_ids, start=1):
            agents.join_campaign(
                session, agent_id, campaign.id, f"sip:100{number}@{HOST}:{phones_peer.port}"
            )
    trunk = SipTrunk(
        SipTrunkConfig(
            ua=UaConfig(trunk_uri=trunk_peer.uri, timers=FAST), keepalive_interval_s=None
        )
    )
    worker = floor.worker(trunk, tick_s=0.2)
    finishing, hanging_up = AgentsFinishing(sqlite_database), AgentsHangingUp(floor)
    finishing.start()
    hanging_up.start()
    thread = DialerThread(worker).start()
    try:
        wait_for(floor.settled, 90, "every lead dialed over SIP and every call finished")
    finally:
        thread.stop()
        hanging_up.stop()
        finishing.stop()
        floor.bus.wait_until_idle()
        floor.bus.stop()
    assert trunk_peer.wait() == 0, trunk_peer.errors()
    assert phones_peer.wait() == 0, phones_peer.errors()  # both agent legs got our BYE

    calls, leads = floor.rows()
    by_phone = {call.phone_e164: call for call in calls}
    assert sorted(by_phone) == sorted(PHONES)
    for phone, call in by_phone.items():
        if phone.endswith("1"):
            assert (call.outcome, call.sip_status, call.connected_at) == (
                CallOutcome.BUSY, 486, None,
            )  # fmt: skip
        else:
            assert call.outcome is CallOutcome.ANSWERED and call.sip_status == 200
            assert call.agent_id in floor.agent_ids and call.connected_at is not None
    assert all(lead.state is LeadState.RETRY for lead in leads)
    assert "without media" not in caplog.text  # every answer was bridged to an agent leg
    wire = trunk_peer.sent_and_received()
    assert sum(line.startswith("received INVITE") for line in wire) == len(PHONES)
    assert sum(line.startswith("received BYE") for line in wire) == 3
