"""Media against sipp: bridge into a nailed-up agent leg, the abandon message
(answering-machine detection: test_sip_amd.py)."""

from __future__ import annotations

import asyncio

import pytest

from dialer.carrier import AgentLegRequest, OriginateRequest
from tests.integration.sip.helpers import Recorder, trunk_for

pytestmark = pytest.mark.sipp

PCAP = "/usr/share/sip-tester/g711a.pcap"  # shipped with Debian's sip-tester: 236 RTP packets
PCAP_PACKETS = 236


async def _settle(counter, quiet_s: float = 0.6, limit_s: float = 15.0) -> None:
    """Wait until a packet counter stops moving."""
    loop = asyncio.get_running_loop()
    start, last = loop.time(), -1
    while loop.time() - start < limit_s:
        await asyncio.sleep(quiet_s)
        now = counter()
        if now == last and now > 0:
            return
        last = now


def test_customer_is_bridged_into_agent_leg_both_ways(sipp):
    customer = sipp("uas_answer_play.xml", keys={"pcap": PCAP}, name="customer")
    agent = sipp("uas_answer_wait.xml", extra=["-rtp_echo"], name="agent")

    async def go():
        trunk = trunk_for(customer.uri)
        await trunk.start()
        agent_rec, cust_rec = Recorder(), Recorder()
        try:
            await trunk.connect_agent(AgentLegRequest("agent-1", agent.uri), agent_rec)
            await asyncio.wait_for(agent_rec.answered.wait(), 5)
            await trunk.originate(
                OriginateRequest("cust-1", "+989121234567", "+982100000000", 5), cust_rec
            )
            await asyncio.wait_for(cust_rec.answered.wait(), 5)
            before_bridge = trunk.media_stats("cust-1")["received"]
            await trunk.bridge("cust-1", "agent-1")
            await _settle(lambda: trunk.media_stats("cust-1")["received"])
            cust, ag = trunk.media_stats("cust-1"), trunk.media_stats("agent-1")
            await trunk.hang_up("cust-1")
            await asyncio.wait_for(cust_rec.ended.wait(), 5)
            agent_still_up = trunk.media_stats("agent-1")  # nailed up: survives the customer
            await trunk.disconnect_agent("agent-1")
            await asyncio.wait_for(agent_rec.ended.wait(), 5)
        finally:
            await trunk.stop()
        return cust, ag, agent_still_up, cust_rec, agent_rec, before_bridge

    cust, ag, agent_still_up, cust_rec, agent_rec, before_bridge = asyncio.run(go())
    assert customer.wait() == 0, customer.errors()
    assert agent.wait() == 0, agent.errors()
    # customer -> dialer -> agent phone
    assert cust["received"] >= PCAP_PACKETS * 0.95
    assert ag["relayed_in"] == cust["received"] - before_bridge  # sipp starts playing at ACK
    # agent phone echoes -> dialer -> customer
    assert ag["received"] >= ag["sent"] * 0.95
    assert cust["relayed_in"] == ag["received"]
    loss = 1 - ag["received"] / ag["relayed_in"]
    print(
        f"bridge: customer sent {cust['received']}, echoed back {ag['received']}, loss {loss:.1%}"
    )
    assert loss < 0.05
    assert cust_rec.final.bridged_to == "agent-1"
    assert cust_rec.final.outcome == "answered"
    assert agent_still_up["received"] == ag["received"]
    assert agent_rec.final.outcome == "answered"


def test_play_and_hang_up_sends_the_prompt_then_bye(sipp):
    echo = sipp("uas_answer_wait.xml", extra=["-rtp_echo"])

    async def go():
        trunk = trunk_for(echo.uri)
        await trunk.start()
        rec = Recorder()
        try:
            await trunk.originate(
                OriginateRequest("cust-1", "+989121234567", "+982100000000", 5), rec
            )
            await asyncio.wait_for(rec.answered.wait(), 5)
            leg = trunk._customers["cust-1"]
            await trunk.play_and_hang_up("cust-1")
            stats = leg.call.rtp.stats
        finally:
            await trunk.stop()
        return rec, stats, trunk._prompt

    rec, stats, prompt = asyncio.run(go())
    assert echo.wait() == 0, echo.errors()
    frames = -(-len(prompt.pcmu) // 160)
    assert stats.sent == frames
    assert stats.received >= frames * 0.9  # sipp echoed the prompt back before our BYE
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "local hangup")
    assert any(w.startswith("received BYE") for w in echo.sent_and_received())
