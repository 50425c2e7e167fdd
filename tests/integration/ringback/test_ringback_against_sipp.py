"""Customers ringing a campaign's number back, with a real sipp UAC as the
customer's phone: the dialer answers, finds the customer by their number and
pops them with their history to the campaign's ready agent (whose phone is a
sipp UAS); with nobody free the caller hears the message (received on the
test's own RTP socket) and a callback for anyone is booked; an unknown number
pops as a new customer."""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.db import Database, utcnow
from callcenter.events import CallHangupRequested
from callcenter.models import (
    AuditEntry,
    Call,
    Callback,
    CallStateChange,
    Campaign,
    Customer,
    DialMode,
    Lead,
)
from callcenter.realtime import BROADCASTER
from callcenter.services import agents
from callcenter.services.exports.tables import call_sheets
from callcenter.services.reports.filters import ReportFilters
from callcenter.states import (
    AgentState,
    CallDirection,
    CallOutcome,
    CallState,
    LeadState,
    Role,
)
from dialer.embedded import DialerThread
from dialer.sip import g711
from dialer.sip.audio import read_wav_pcm8k
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import UaConfig
from dialer.voices import ringback_wav
from tests.factories import make_customer, make_lead, make_user
from tests.integration.dialer.floor import AgentsFinishing, Floor, build_floor
from tests.integration.dialer.topology import start_sipp_peer
from tests.integration.sip.conftest import HOST, free_udp_port
from tests.integration.sip.helpers import FAST
from tests.integration.sip.kamailio import Kamailio, proxy_config, start_kamailio
from tests.support import wait_until

pytestmark = pytest.mark.sipp

HERE = Path(__file__).parent
AGENT_PHONE = Path(__file__).parents[1] / "dialer" / "scenarios" / "uas_agent_phone.xml"
CALLER_ID = "+982188776655"
DIALED_AS = "02188776655"  # the customer dials the national form


@dataclass
class ScreenPushes:
    """What the web tier would push to browsers, by room (the broadcaster the
    socket server is in production)."""

    sent: list[tuple[str, Any, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def emit(self, event: str, data: Any, *, to: str, namespace: str = "/") -> None:
        with self.lock:
            self.sent.append((event, data, to))

    def screen_pops(self, agent_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [d for e, d, to in self.sent if e == "screen_pop" and to == f"agent:{agent_id}"]


class RtpSink:
    """The customer's media port: collects the PCMU the dialer sends them."""

    def __init__(self) -> None:
        self.port = free_udp_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, self.port))
        self.sock.settimeout(0.2)
        self.payloads: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            if len(data) > 12 and data[1] & 0x7F == 0:
                self.payloads.append(data[12:])

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def samples(self) -> list[int]:
        return list(g711.decode(b"".join(self.payloads), 0))


@dataclass
class CustomerPhone:
    process: subprocess.Popen[bytes]
    workdir: Path

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def ring_back(dialer_port: int, caller: str, media_port: int, workdir: Path) -> CustomerPhone:
    binary = shutil.which("sipp")
    assert binary is not None, "sipp is not installed (Debian package sip-tester)"
    workdir.mkdir(exist_ok=True)
    command = [
        binary, f"{HOST}:{dialer_port}", "-sf", str(HERE / "uac_customer_rings_back.xml"),
        "-s", DIALED_AS, "-key", "caller", caller, "-key", "customer_media_port", str(media_port),
        "-i", HOST, "-p", str(free_udp_port()), "-mi", HOST, "-m", "1", "-nostdin",
        "-trace_msg", "-trace_err", "-timeout", "60s", "-timeout_error",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return CustomerPhone(process, workdir)


@pytest.fixture
def pushes(sqlite_database: Database) -> Iterator[ScreenPushes]:
    recorded = ScreenPushes()
    sqlite_database.sessions.configure(info={BROADCASTER: recorded})
    yield recorded
    sqlite_database.sessions.configure(info={})


def campaign_floor(database: Database, *, agents_count: int, wait_s: int) -> Floor:
    floor = build_floor(
        database,
        agents_count=agents_count,
        leads_count=0,
        dial_mode=DialMode.PROGRESSIVE,
        caller_id=CALLER_ID,
        inbound_wait_seconds=wait_s,
    )
    return floor


def sip_worker(floor: Floor, dialer_port: int) -> DialerThread:
    trunk = SipTrunk(
        SipTrunkConfig(
            ua=UaConfig(
                trunk_uri=f"sip:{HOST}:{free_udp_port()}",
                local_host=HOST,
                local_port=dialer_port,
                timers=FAST,
            ),
            keepalive_interval_s=None,
        )
    )
    return DialerThread(floor.worker(trunk, tick_s=0.2))


def phone_up(database: Database, agent_id: int) -> bool:
    with database.sessions() as session:
        return str(agents.status_of(session, agent_id).phone_leg) == "up"


def inbound_calls(database: Database) -> list[Call]:
    with database.sessions() as session:
        rows = list(session.scalars(select(Call).where(Call.direction == CallDirection.INBOUND)))
        session.expunge_all()
    return rows


def test_a_known_customer_ringing_back_pops_with_their_history_to_the_ready_agent(
    sqlite_database: Database, pushes: ScreenPushes, tmp_path: Path
) -> None:
    database = sqlite_database
    phone = start_sipp_peer(AGENT_PHONE, tmp_path / "agent-phone", "-rtp_echo")
    floor = campaign_floor(database, agents_count=0, wait_s=20)
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        customer = make_customer(
            session, phone_e164="+989121234567", first_name="Maryam", last_name="Karimi"
        )
        other = make_customer(session, phone_e164="+989350001122", first_name="Reza")
        later = utcnow() + timedelta(days=1)  # not due: the dialer does not call them now
        lead = make_lead(
            session, campaign, customer, state=LeadState.RETRY, attempts=1, next_attempt_at=later
        )
        make_lead(session, campaign, other, state=LeadState.RETRY, next_attempt_at=later)
        earlier = utcnow() - timedelta(days=2)
        session.add(
            Call(
                id="earlier-call",
                campaign_id=campaign.id,
                lead_id=lead.id,
                customer_id=customer.id,
                attempt=1,
                phone_e164=customer.phone_e164,
                state=CallState.ENDED,
                outcome=CallOutcome.NO_ANSWER,
                dialed_at=earlier,
                ended_at=earlier,
            )
        )
        session.add(CallStateChange(call_id="earlier-call", to_state=CallState.ENDED, at=earlier))
        lead_id, customer_id = lead.id, customer.id
    agent_id = _ready_agent(database, floor, f"sip:1001@{HOST}:{phone.port}")
    dialer_port = free_udp_port()
    rtp = RtpSink()
    finishing = AgentsFinishing(database)
    thread = sip_worker(floor, dialer_port)
    try:
        finishing.start()
        thread.start()
        wait_until(lambda: phone_up(database, agent_id), 20, "the agent's phone leg up")
        # The customer dials 0912... style national numbers; their network sends 0912...
        customer_phone = ring_back(dialer_port, "09121234567", rtp.port, tmp_path / "customer")
        wait_until(lambda: pushes.screen_pops(agent_id), 20, "the agent's screen popped")
        (call,) = inbound_calls(database)
        floor.bus.publish(CallHangupRequested(call_id=call.id, agent_id=agent_id))
        assert customer_phone.wait() == 0
        wait_until(floor.settled, 20, "the call wrapped up")
    finally:
        thread.stop()
        finishing.stop()
        rtp.close()
        phone.process.kill()
        floor.bus.wait_until_idle()
        floor.bus.stop()
    assert finishing.errors == []

    (pop,) = pushes.screen_pops(agent_id)
    assert pop["call"]["direction"] == "inbound"
    assert pop["customer"]["id"] == customer_id
    assert pop["customer"]["first_name"] == "Maryam"
    assert pop["lead"]["id"] == lead_id
    assert [past["id"] for past in pop["history"]["calls"]] == ["earlier-call"]

    (call,) = inbound_calls(database)
    assert call.lead_id == lead_id and call.agent_id == agent_id
    assert call.phone_e164 == "+989121234567"
    assert call.outcome is CallOutcome.ANSWERED and call.connected_at is not None
    assert call.attempt == 2
    with database.sessions() as session:
        assert session.scalar(select(Customer).where(Customer.phone_e164 == "+989121234567"))
        assert len(list(session.scalars(select(Customer)))) == 2  # nobody added
        audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "call.rang_back"))
        assert audit is not None and audit.target_id == call.id
        assert audit.details["new_customer"] is False


def test_with_nobody_free_the_caller_hears_the_message_and_a_callback_is_booked(
    sqlite_database: Database, pushes: ScreenPushes, tmp_path: Path
) -> None:
    database = sqlite_database
    floor = campaign_floor(database, agents_count=0, wait_s=1)
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        customer = make_customer(session, phone_e164="+989121234567")
        lead_id = make_lead(
            session,
            campaign,
            customer,
            state=LeadState.RETRY,
            attempts=1,
            next_attempt_at=utcnow() + timedelta(days=1),
        ).id
    dialer_port = free_udp_port()
    rtp = RtpSink()
    thread = sip_worker(floor, dialer_port)
    try:
        thread.start()
        # The number is the campaign's once the dialer holds it (its first tick).
        wait_until(lambda: thread.worker.ticked_at is not None, 20, "the dialer's first tick")
        customer_phone = ring_back(dialer_port, "+989121234567", rtp.port, tmp_path / "customer")
        assert customer_phone.wait() == 0  # the dialer's BYE ended it
        wait_until(floor.settled, 20, "the call ended")
    finally:
        thread.stop()
        rtp.close()
        floor.bus.wait_until_idle()
        floor.bus.stop()

    prompt_samples = len(read_wav_pcm8k(Path(ringback_wav("en")).read_bytes())) // 2
    heard = rtp.samples()
    assert len(heard) >= 0.9 * prompt_samples, (len(heard), prompt_samples)
    rms = math.sqrt(sum(sample * sample for sample in heard) / len(heard))
    assert rms > 500  # speech, not silence

    (call,) = inbound_calls(database)
    assert call.outcome is CallOutcome.ABANDONED and call.agent_id is None
    assert call.sip_reason == "no agent free: callback booked"
    with database.sessions() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.state is LeadState.CALLBACK
        (callback,) = session.scalars(select(Callback).where(Callback.lead_id == lead_id))
        assert callback.assigned_agent_id is None and callback.created_by_id is None
        assert callback.call_id == call.id
        assert lead.next_attempt_at is not None and callback.due_at <= utcnow()
        missed = session.scalar(
            select(AuditEntry).where(AuditEntry.action == "call.ring_back_missed")
        )
        assert missed is not None and missed.details["callback"] is True
        [sheet] = call_sheets(session, ReportFilters(), "en")
        [row] = sheet.rows
        assert row[sheet.headers.index("Direction")] == "Inbound (rang back)"
        assert row[sheet.headers.index("Outcome")] == "Abandoned"


def test_an_unknown_number_pops_as_a_new_customer(
    sqlite_database: Database, pushes: ScreenPushes, tmp_path: Path
) -> None:
    database = sqlite_database
    phone = start_sipp_peer(AGENT_PHONE, tmp_path / "agent-phone", "-rtp_echo")
    floor = campaign_floor(database, agents_count=0, wait_s=20)
    agent_id = _ready_agent(database, floor, f"sip:1001@{HOST}:{phone.port}")
    dialer_port = free_udp_port()
    rtp = RtpSink()
    finishing = AgentsFinishing(database)
    thread = sip_worker(floor, dialer_port)
    try:
        finishing.start()
        thread.start()
        wait_until(lambda: phone_up(database, agent_id), 20, "the agent's phone leg up")
        customer_phone = ring_back(dialer_port, "00989197654321", rtp.port, tmp_path / "customer")
        wait_until(lambda: pushes.screen_pops(agent_id), 20, "the agent's screen popped")
        (call,) = inbound_calls(database)
        floor.bus.publish(CallHangupRequested(call_id=call.id, agent_id=agent_id))
        assert customer_phone.wait() == 0
        wait_until(floor.settled, 20, "the call wrapped up")
    finally:
        thread.stop()
        finishing.stop()
        rtp.close()
        phone.process.kill()
        floor.bus.wait_until_idle()
        floor.bus.stop()

    (pop,) = pushes.screen_pops(agent_id)
    with database.sessions() as session:
        (customer,) = session.scalars(select(Customer))
        (lead,) = session.scalars(select(Lead))
        assert customer.phone_e164 == "+989197654321"
        assert lead.customer_id == customer.id and lead.campaign_id == floor.campaign_id
    assert pop["customer"]["id"] == customer.id
    assert pop["history"]["calls"] == []
    assert pop["call"]["direction"] == "inbound"


def _ready_agent(database: Database, floor: Floor, phone: str) -> int:
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        agent = make_user(session, Role.AGENT, team=campaign.teams[0])
        agent_id = agent.id
    with database.unit_of_work() as session:
        agents.join_campaign(session, agent_id, floor.campaign_id, phone)
        status = agents.go_ready(session, agent_id)
        assert status.state is AgentState.READY
    return agent_id


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Kamailio]:
    """Debian's kamailio as a record-routing proxy in front of the dialer."""
    port = free_udp_port()
    started = start_kamailio(proxy_config(HOST, port), tmp_path / "kamailio", HOST, port)
    try:
        yield started
    finally:
        started.stop()


def test_a_ring_back_through_a_record_routing_proxy_keeps_the_route(
    sqlite_database: Database, pushes: ScreenPushes, proxy: Kamailio, tmp_path: Path
) -> None:
    """Through Debian's kamailio: the caller's ACK and our BYE both follow
    the route set (our 200 echoes the Record-Route; our BYE carries it)."""
    database = sqlite_database
    floor = campaign_floor(database, agents_count=0, wait_s=1)
    dialer_port = free_udp_port()
    thread = sip_worker(floor, dialer_port)
    binary = shutil.which("sipp")
    assert binary is not None
    workdir = tmp_path / "customer"
    workdir.mkdir()
    try:
        thread.start()
        wait_until(lambda: thread.worker.ticked_at is not None, 20, "the dialer's first tick")
        customer = subprocess.Popen(
            [
                binary, proxy.uri.removeprefix("sip:"), "-sf",
                str(HERE / "uac_customer_rings_back_via_proxy.xml"), "-s", DIALED_AS,
                "-key", "caller", "09121234567", "-key", "dialer", f"{HOST}:{dialer_port}",
                "-i", HOST, "-p", str(free_udp_port()), "-mi", HOST, "-m", "1", "-nostdin",
                "-trace_msg", "-trace_err", "-timeout", "60s", "-timeout_error",
            ],
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert CustomerPhone(customer, workdir).wait() == 0
        wait_until(floor.settled, 20, "the call ended")
    finally:
        thread.stop()
        floor.bus.wait_until_idle()
        floor.bus.stop()
    (call,) = inbound_calls(database)
    assert call.outcome is CallOutcome.ABANDONED and call.answered_at is not None
    log = "".join(path.read_text(errors="replace") for path in workdir.glob("*_messages.log"))
    bye = log[log.index("BYE sip:") :].split("\n\n", 1)[0]
    assert f"Via: SIP/2.0/UDP {HOST}:{proxy.port}" in bye  # through the proxy
