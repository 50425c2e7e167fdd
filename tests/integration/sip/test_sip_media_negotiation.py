"""SDP offer/answer against sipp: bad offers refused, hold directions, host names in c=,
unusable answers, and the RTP port range."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import pytest

from dialer.carrier import AgentLegRequest, OriginateRequest
from dialer.sip.message import SipMessage
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import UaConfig
from tests.integration.sip.conftest import free_udp_port
from tests.integration.sip.helpers import FAST, Recorder

pytestmark = pytest.mark.sipp


class Wire:
    """Every SIP message the trunk sent ("->") or received ("<-"), as first lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(
        self, direction: str, msg: SipMessage, addr: tuple[str, int], retransmission: bool
    ) -> None:
        first = f"{msg.method} {msg.cseq[0]}" if msg.is_request else f"{msg.status} {msg.cseq[1]}"
        self.lines.append(f"{direction} {first}")

    async def seen(self, line: str, limit_s: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while line not in self.lines:
            assert loop.time() < deadline, f"never saw {line!r}: {self.lines}"
            await asyncio.sleep(0.02)


def call_with(
    uri: str,
    while_answered: Callable[[SipTrunk, str, Wire], Awaitable[None]],
    **ua: object,
) -> tuple[Recorder, Wire]:
    async def go() -> tuple[Recorder, Wire]:
        wire = Wire()
        config = UaConfig(trunk_uri=uri, timers=FAST, **ua)  # type: ignore[arg-type]
        trunk = SipTrunk(SipTrunkConfig(ua=config, keepalive_interval_s=None), trace=wire)
        await trunk.start()
        rec = Recorder()
        try:
            await trunk.originate(OriginateRequest("call-1", "+989121234567", "+98210", 5), rec)
            await asyncio.wait_for(rec.answered.wait(), 5)
            await while_answered(trunk, "call-1", wire)
            await asyncio.wait_for(rec.ended.wait(), 10)
        finally:
            await trunk.stop()
        return rec, wire

    return asyncio.run(go())


def _assert_peer_ok(peer) -> None:
    code = peer.wait()
    assert code == 0, f"sipp exit {code}\n{peer.errors()}\n{peer.messages()[-3000:]}"


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "kamailio"])
def test_reinvite_with_port_70000_gets_488_and_media_still_flows_both_ways(
    sipp, request, through_proxy
):
    peer = sipp("uas_reinvite_bad_port.xml", extra=["-rtp_echo"])
    proxy = request.getfixturevalue("kamailio").uri if through_proxy else None
    media: dict[str, int] = {}

    async def after_refused_offer(trunk: SipTrunk, call_id: str, wire: Wire) -> None:
        await wire.seen("-> 488 INVITE")
        leg = trunk._customers[call_id].call
        assert leg.rtp is not None
        await trunk.play_and_hang_up(call_id)  # ~1.4 s of prompt; sipp echoes it back
        media.update(vars(leg.rtp.stats))

    rec, wire = call_with(peer.uri, after_refused_offer, outbound_proxy=proxy)
    _assert_peer_ok(peer)
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "local hangup")
    assert "-> 200 INVITE" not in wire.lines  # the bad offer was never accepted
    frames = media["sent"]
    assert frames >= 60  # the whole prompt went out to sipp's real media port
    assert media["received"] >= frames * 0.9  # and came back: media flows both ways
    assert media["send_errors"] == 0


def test_offer_directions_are_answered_per_rfc3264_and_hold_stops_our_media(sipp):
    peer = sipp("uas_reinvite_directions.xml", extra=["-rtp_echo"])
    media: dict[str, int] = {}

    async def on_hold(trunk: SipTrunk, call_id: str, wire: Wire) -> None:
        await wire.seen("<- ACK 6")  # the last offer (sendonly) is answered and ACKed
        leg = trunk._customers[call_id].call
        assert leg.rtp is not None
        await trunk.play_and_hang_up(call_id)
        media.update(vars(leg.rtp.stats))

    rec, _ = call_with(peer.uri, on_hold)
    _assert_peer_ok(peer)  # each 200 carried the mirrored direction (sipp checks it)
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "local hangup")
    assert media["sent"] == 0 and media["received"] == 0  # held: we sent nothing to echo
    assert "a=sendrecv" in _our_first_offer(peer)


def _our_first_offer(peer) -> str:
    blocks = peer.messages().split("----------------------------------------------")
    invite = next(b for b in blocks if "message received" in b and "INVITE sip:" in b)
    return invite


def test_host_name_in_c_is_resolved_once_and_media_flows(sipp):
    peer = sipp("uas_answer_fqdn.xml", keys={"media_host": "localhost"}, extra=["-rtp_echo"])
    lookups: list[str] = []
    media: dict[str, int] = {}

    async def go() -> Recorder:
        loop = asyncio.get_running_loop()
        real = loop.getaddrinfo

        async def counting(host, *args, **kwargs):
            lookups.append(host)
            return await real(host, *args, **kwargs)

        loop.getaddrinfo = counting  # type: ignore[method-assign]
        config = UaConfig(trunk_uri=peer.uri, timers=FAST)
        trunk = SipTrunk(SipTrunkConfig(ua=config, keepalive_interval_s=None))
        await trunk.start()
        rec = Recorder()
        try:
            await trunk.originate(OriginateRequest("call-1", "+989121234567", "+98210", 5), rec)
            await asyncio.wait_for(rec.answered.wait(), 5)
            leg = trunk._customers["call-1"].call
            assert leg.rtp is not None
            media["remote_is_numeric"] = int(leg.rtp.remote == ("127.0.0.1", peer.media_port))
            await trunk.play_and_hang_up("call-1")
            media.update(vars(leg.rtp.stats))
            await asyncio.wait_for(rec.ended.wait(), 5)
        finally:
            await trunk.stop()
        return rec

    rec = asyncio.run(go())
    _assert_peer_ok(peer)
    assert rec.final.outcome == "answered"
    assert lookups.count("localhost") == 1  # once for the SDP, none for ~70 packets
    assert media["remote_is_numeric"] == 1
    assert media["sent"] >= 60 and media["received"] >= media["sent"] * 0.9


@pytest.mark.parametrize(
    ("connection", "media_line", "reason"),
    [
        ("c=IN IP4 127.0.0.1", "m=audio 70000 RTP/AVP 0", "audio port 70000 out of range"),
        ("c=IN IP4 127.0.0.1", "m=audio 0 RTP/AVP 0", "audio stream rejected (port 0)"),
        ("c=IN IP4 127.0.0.1", "m=audio 4000 RTP/AVP 18", "no common codec"),
        ("c=IN IP6 ::1", "m=audio 4000 RTP/AVP 0", "unsupported address type 'IP6'"),
        ("a=tool:no-connection-line", "m=audio 4000 RTP/AVP 0", "no connection address"),
        ("c=IN IP4 no-such-host.invalid", "m=audio 4000 RTP/AVP 0", "cannot resolve media host"),
    ],
)
def test_unusable_answer_ends_the_call_with_ack_and_bye(sipp, connection, media_line, reason):
    peer = sipp("uas_answer_bad_sdp.xml", keys={"connection": connection, "media_line": media_line})

    async def go() -> Recorder:
        config = UaConfig(trunk_uri=peer.uri, timers=FAST)
        trunk = SipTrunk(SipTrunkConfig(ua=config, keepalive_interval_s=None))
        await trunk.start()
        rec = Recorder()
        try:
            await trunk.originate(OriginateRequest("call-1", "+989121234567", "+98210", 5), rec)
            await asyncio.wait_for(rec.ended.wait(), 10)
        finally:
            await trunk.stop()
        return rec

    rec = asyncio.run(go())
    _assert_peer_ok(peer)  # sipp got the ACK and then the BYE
    assert rec.phases == ["dialing", "ended"]
    assert rec.final.outcome == "failed" and rec.final.sip_status == 200
    assert rec.final.sip_reason.startswith("unusable SDP answer: ")
    assert reason in rec.final.sip_reason


def test_rtp_port_range_exhausted_fails_one_call_and_the_dialer_goes_on(sipp):
    agent = sipp("uas_answer_wait.xml", name="agent")
    customer = sipp("uas_answer_wait.xml", name="customer")
    low = free_udp_port(pair=True)  # even, so [low, low + 1] holds exactly one RTP port

    async def go():
        config = UaConfig(
            trunk_uri=customer.uri,
            local_host="127.0.0.1",
            timers=FAST,
            rtp_port_min=low,
            rtp_port_max=low + 1,
        )
        trunk = SipTrunk(SipTrunkConfig(ua=config, keepalive_interval_s=None))
        await trunk.start()
        agent_rec, refused, later = Recorder(), Recorder(), Recorder()
        try:
            await trunk.connect_agent(AgentLegRequest("agent-1", agent.uri), agent_rec)
            await asyncio.wait_for(agent_rec.answered.wait(), 5)
            agent_port = trunk._agents["agent-1"].call.rtp.port
            await trunk.originate(OriginateRequest("cust-1", "+98912", "+98210", 5), refused)
            await asyncio.wait_for(refused.ended.wait(), 5)
            agent_up = trunk.media_stats("agent-1")
            await trunk.disconnect_agent("agent-1")
            await asyncio.wait_for(agent_rec.ended.wait(), 5)
            await trunk.originate(OriginateRequest("cust-2", "+98912", "+98210", 5), later)
            await asyncio.wait_for(later.answered.wait(), 5)
            later_port = trunk._customers["cust-2"].call.rtp.port
            await trunk.hang_up("cust-2")
            await asyncio.wait_for(later.ended.wait(), 5)
        finally:
            await trunk.stop()
        return agent_port, refused, agent_up, agent_rec, later, later_port

    agent_port, refused, agent_up, agent_rec, later, later_port = asyncio.run(go())
    assert agent.wait() == 0, agent.errors()
    assert customer.wait() == 0, customer.errors()
    assert agent_port == low
    assert refused.phases == ["dialing", "ended"]
    assert (refused.final.outcome, refused.final.sip_reason) == (
        "failed",
        f"no free RTP port in {low}-{low + 1} on 127.0.0.1",
    )
    assert agent_up is not None and agent_rec.final.sip_reason == "local hangup"
    assert later.final.outcome == "answered" and later_port == low
    invites = re.findall(r"^INVITE sip:", customer.messages(), re.M)
    assert len(invites) == 1  # the refused call never reached the wire
