"""Agent transfers end to end: the dialer worker on the real SIP trunk, the
calls and transfers services on a real database, sipp phones playing their
own tones (the test hears each phone's side), and a sipp customer who rang
the campaign's number back. Blind to another agent: the closer's screen pops
with the same call (lead, script position, the opener's notes) and hears the
customer; blind to an outside number: a sipp UAS gets the INVITE and the
customer's audio. Warm: consult, hand over."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.db import Database
from callcenter.events import CallHangupRequested
from callcenter.models import AuditEntry, Call, CallTransfer, Campaign, DialMode, User
from callcenter.realtime import BROADCASTER as BROADCASTER_KEY
from callcenter.services import agents, dispositions, transfers, workstation
from callcenter.services.exports.tables import build_sheets
from callcenter.services.reports import ReportFilters, openers_closers
from callcenter.states import AgentState, CallState, Role, TransferState
from dialer.embedded import DialerThread
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import UaConfig
from tests.factories import make_user
from tests.integration.dialer.floor import Floor, build_floor
from tests.integration.ringback.test_ringback_against_sipp import ScreenPushes
from tests.integration.sip.conftest import HOST, free_udp_port
from tests.integration.sip.helpers import FAST
from tests.integration.sip.tone import write_tone_pcap
from tests.integration.transfer.ears import Ear, heard
from tests.support import wait_until

pytestmark = pytest.mark.sipp

HERE = Path(__file__).parent
CALLER_ID = "+982188776655"
CUSTOMER_HZ, OPENER_HZ, CLOSER_HZ = 440.0, 1200.0, 2000.0
TONES = (CUSTOMER_HZ, OPENER_HZ, CLOSER_HZ)
EAR = "{ear}"  # in a peer's arguments: the port of the test's socket that hears it


@dataclass
class Peer:
    name: str
    ear: Ear
    process: subprocess.Popen[bytes]
    port: int

    @property
    def uri(self) -> str:
        return f"sip:1001@{HOST}:{self.port}"

    def hears(self) -> set[float]:
        (tones,) = hear(self)
        return tones


def hear(*peers: Peer) -> list[set[float]]:
    """The tones each peer hears over the same second (one second for all of
    them, not one after the other)."""
    for peer in peers:
        peer.ear.clear()
    time.sleep(1.0)
    return [heard(peer.ear.levels(TONES)) for peer in peers]


class Peers:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("sipp")
        assert binary is not None, "sipp is not installed (Debian package sip-tester)"
        self.binary = binary
        self.workdir = workdir
        self.started: list[Peer] = []

    def _start(self, name: str, hz: float, args: list[str]) -> Peer:
        workdir = self.workdir / name
        workdir.mkdir()
        pcap = workdir / "tone.pcap"
        write_tone_pcap(pcap, hz, seconds=90.0, codec=0)
        ear = Ear(name)
        port = free_udp_port()
        args = [str(ear.port) if arg == EAR else arg for arg in args]
        command = [
            self.binary, *args, "-i", HOST, "-p", str(port), "-mi", HOST,
            "-mp", str(free_udp_port(pair=True)), "-nostdin", "-key", "pcap", str(pcap),
            "-trace_err", "-trace_msg",
        ]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        peer = Peer(name, ear, process, port)
        self.started.append(peer)
        return peer

    def phone(self, name: str, hz: float, *extra: str) -> Peer:
        """A phone that answers and plays its tone (an agent's, or an outside number)."""
        return self._start(
            name, hz, ["-sf", str(HERE / "uas_phone_tone.xml"), "-key", "hear_port", EAR, *extra]
        )

    def customer(self, dialer_port: int, hz: float) -> Peer:
        """A customer ringing the campaign's number back, then talking."""
        peer = self._start(
            "customer",
            hz,
            [
                f"{HOST}:{dialer_port}", "-sf", str(HERE / "uac_customer_talks.xml"),
                "-s", "02188776655", "-key", "caller", "09121234567",
                "-key", "customer_media_port", EAR, "-m", "1", "-timeout", "120s",
            ],
        )  # fmt: skip
        return peer

    def close(self) -> None:
        for peer in self.started:
            if peer.process.poll() is None:
                peer.process.kill()
            peer.process.wait()
            peer.ear.close()


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Peers]:
    started = Peers(tmp_path)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def pushes(sqlite_database: Database) -> Iterator[ScreenPushes]:
    recorded = ScreenPushes()
    sqlite_database.sessions.configure(info={BROADCASTER_KEY: recorded})
    yield recorded
    sqlite_database.sessions.configure(info={})


def ready_agent(database: Database, floor: Floor, phone: str) -> int:
    with database.unit_of_work() as session:
        campaign = session.get(Campaign, floor.campaign_id)
        assert campaign is not None
        agent_id = make_user(session, Role.AGENT, team=campaign.teams[0]).id
    with database.unit_of_work() as session:
        agents.join_campaign(session, agent_id, floor.campaign_id, phone)
        agents.go_ready(session, agent_id)
    return agent_id


def state_of(database: Database, agent_id: int) -> AgentState:
    with database.sessions() as session:
        return agents.status_of(session, agent_id).state


def phone_up(database: Database, agent_id: int) -> Callable[[], bool]:
    def check() -> bool:
        with database.sessions() as session:
            return str(agents.status_of(session, agent_id).phone_leg) == "up"

    return check


def the_call(database: Database) -> Call:
    with database.sessions() as session:
        (call,) = session.scalars(select(Call))
        session.expunge(call)
    return call


def transfer_state(database: Database) -> TransferState | None:
    with database.sessions() as session:
        row = session.scalar(select(CallTransfer).order_by(CallTransfer.id.desc()))
        return row.state if row is not None else None


def run_floor(floor: Floor, trunk_uri: str, dialer_port: int) -> DialerThread:
    trunk = SipTrunk(
        SipTrunkConfig(
            ua=UaConfig(trunk_uri=trunk_uri, local_host=HOST, local_port=dialer_port, timers=FAST),
            keepalive_interval_s=None,
        )
    )
    return DialerThread(floor.worker(trunk, tick_s=0.2)).start()


def campaign(database: Database) -> Floor:
    return build_floor(
        database,
        agents_count=0,
        leads_count=0,
        dial_mode=DialMode.PROGRESSIVE,
        caller_id=CALLER_ID,
        inbound_wait_seconds=30,
    )


def test_blind_transfer_to_another_agent_moves_the_call_and_its_screen(
    sqlite_database: Database, pushes: ScreenPushes, peers: Peers
) -> None:
    database = sqlite_database
    floor = campaign(database)
    opener_phone = peers.phone("opener", OPENER_HZ)
    closer_phone = peers.phone("closer", CLOSER_HZ)
    opener = ready_agent(database, floor, opener_phone.uri)
    time.sleep(0.05)  # the opener is the longest idle: the call goes to them
    closer = ready_agent(database, floor, closer_phone.uri)
    dialer_port = free_udp_port()
    thread = run_floor(floor, f"sip:{HOST}:{free_udp_port()}", dialer_port)
    try:
        wait_until(phone_up(database, opener), 20, "the opener's phone up")
        wait_until(phone_up(database, closer), 20, "the closer's phone up")
        customer = peers.customer(dialer_port, CUSTOMER_HZ)
        wait_until(lambda: pushes.screen_pops(opener), 20, "the opener's screen popped")
        call = the_call(database)
        assert opener_phone.hears() == {CUSTOMER_HZ}
        with database.unit_of_work() as session:
            workstation.save_notes(session, opener, call.id, "wants the blue model")
            started = transfers.start(
                session,
                opener,
                call.id,
                kind="blind",
                target="agent",
                to_agent_id=closer,
                bus=floor.bus,
            )
            assert started.state is TransferState.REQUESTED
        wait_until(lambda: transfer_state(database) is TransferState.COMPLETED, 20, "transfer done")
        wait_until(lambda: pushes.screen_pops(closer), 20, "the closer's screen popped")
        assert hear(closer_phone, opener_phone, customer) == [{CUSTOMER_HZ}, set(), {CLOSER_HZ}]
        assert state_of(database, opener) is AgentState.WRAP_UP
        assert state_of(database, closer) is AgentState.ON_CALL
        with database.unit_of_work() as session:  # no disposition owed by the opener
            assert agents.go_ready(session, opener).state is AgentState.READY
        floor.bus.publish(CallHangupRequested(call_id=call.id, agent_id=closer))
        wait_until(lambda: state_of(database, closer) is AgentState.WRAP_UP, 20, "wrap-up")
        with database.unit_of_work() as session:
            dispositions.set_disposition(session, closer, call.id, "sale")
    finally:
        thread.stop()
        floor.bus.wait_until_idle()
        floor.bus.stop()

    (opener_pop,) = pushes.screen_pops(opener)
    (closer_pop,) = pushes.screen_pops(closer)
    assert closer_pop["call"]["id"] == opener_pop["call"]["id"] == call.id
    assert closer_pop["lead"]["id"] == opener_pop["lead"]["id"]
    assert closer_pop["call"]["current_step"] == opener_pop["call"]["current_step"]
    assert closer_pop["notes"] == "wants the blue model"
    assert closer_pop["customer"]["id"] == opener_pop["customer"]["id"]
    ended = the_call(database)
    assert ended.state is CallState.ENDED
    assert (ended.opened_by_id, ended.agent_id) == (opener, closer)
    with database.sessions() as session:
        actions = [
            row.action
            for row in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("transfer.%"))
                .order_by(AuditEntry.id)
            )
        ]
    assert actions == ["transfer.requested", "transfer.completed"]
    with database.sessions() as session:
        by_agent = {
            row.agent_id: (row.opened, row.transferred, row.closed, row.converted)
            for row in openers_closers(session, ReportFilters())
        }
        assert by_agent == {opener: (1, 1, 0, 0), closer: (0, 0, 1, 1)}
        sheets = build_sheets(session, "agents", ReportFilters(), "en")
        assert [sheet.title for sheet in sheets] == ["Agent performance", "Openers vs closers"]
        table = {row[0]: row[1:] for row in sheets[1].rows}
        closer_name = session.get(User, closer).full_name  # type: ignore[union-attr]
        assert table[closer_name] == [0, 0, 1, 1, 100.0]


def test_blind_transfer_to_an_outside_number_joins_the_customer_to_it(
    sqlite_database: Database, pushes: ScreenPushes, peers: Peers
) -> None:
    database = sqlite_database
    floor = campaign(database)
    opener_phone = peers.phone("opener", OPENER_HZ)
    outside = peers.phone("outside", CLOSER_HZ, "-m", "1")  # exits after its one call
    opener = ready_agent(database, floor, opener_phone.uri)
    dialer_port = free_udp_port()
    thread = run_floor(floor, f"sip:{HOST}:{outside.port}", dialer_port)
    try:
        wait_until(phone_up(database, opener), 20, "the opener's phone up")
        customer = peers.customer(dialer_port, CUSTOMER_HZ)
        wait_until(lambda: pushes.screen_pops(opener), 20, "the opener's screen popped")
        call = the_call(database)
        with database.unit_of_work() as session:
            transfers.start(
                session,
                opener,
                call.id,
                kind="blind",
                target="number",
                to_number="0912 111 0000",
                bus=floor.bus,
            )
        wait_until(lambda: transfer_state(database) is TransferState.COMPLETED, 20, "transfer done")
        assert hear(outside, customer, opener_phone) == [{CUSTOMER_HZ}, {CLOSER_HZ}, set()]
        assert state_of(database, opener) is AgentState.WRAP_UP
        floor.bus.publish(CallHangupRequested(call_id=call.id, agent_id=opener))
        assert outside.process.wait(20) == 0  # the outside call got its BYE too
    finally:
        thread.stop()
        floor.bus.wait_until_idle()
        floor.bus.stop()
    messages = (peers.workdir / "outside").glob("*_messages.log")
    text = "".join(path.read_text(errors="replace") for path in messages)
    assert "INVITE sip:+989121110000@" in text
    assert f"From: <sip:{CALLER_ID}@" in text or f"<sip:%2B{CALLER_ID[1:]}@" in text


def test_warm_transfer_consults_then_hands_over(
    sqlite_database: Database, pushes: ScreenPushes, peers: Peers
) -> None:
    database = sqlite_database
    floor = campaign(database)
    opener_phone = peers.phone("opener", OPENER_HZ)
    closer_phone = peers.phone("closer", CLOSER_HZ)
    opener = ready_agent(database, floor, opener_phone.uri)
    time.sleep(0.05)
    closer = ready_agent(database, floor, closer_phone.uri)
    dialer_port = free_udp_port()
    thread = run_floor(floor, f"sip:{HOST}:{free_udp_port()}", dialer_port)
    try:
        wait_until(phone_up(database, opener), 20, "the opener's phone up")
        wait_until(phone_up(database, closer), 20, "the closer's phone up")
        customer = peers.customer(dialer_port, CUSTOMER_HZ)
        wait_until(lambda: pushes.screen_pops(opener), 20, "the opener's screen popped")
        call = the_call(database)
        with database.unit_of_work() as session:
            transfer_id = transfers.start(
                session,
                opener,
                call.id,
                kind="warm",
                target="agent",
                to_agent_id=closer,
                bus=floor.bus,
            ).id
        wait_until(lambda: transfer_state(database) is TransferState.CONSULTING, 20, "consulting")
        # The customer hears hold music only.
        assert hear(closer_phone, opener_phone, customer) == [{OPENER_HZ}, {CLOSER_HZ}, set()]
        assert state_of(database, closer) is AgentState.RESERVED
        with database.unit_of_work() as session:
            transfers.act(session, opener, transfer_id, "hand_over", bus=floor.bus)
        wait_until(lambda: transfer_state(database) is TransferState.COMPLETED, 20, "handed over")
        assert hear(customer, closer_phone) == [{CLOSER_HZ}, {CUSTOMER_HZ}]
        assert state_of(database, opener) is AgentState.WRAP_UP
        assert state_of(database, closer) is AgentState.ON_CALL
    finally:
        thread.stop()
        floor.bus.wait_until_idle()
        floor.bus.stop()
    assert (the_call(database).opened_by_id, the_call(database).agent_id) == (opener, closer)
