"""REGISTER with refresh and OPTIONS keepalive / trunk health, against sipp."""

from __future__ import annotations

import asyncio
import re

import pytest

from dialer.carrier import OriginateRequest
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import Timers, UaConfig
from tests.integration.sip.conftest import free_udp_port
from tests.integration.sip.helpers import Recorder, trunk_for

pytestmark = pytest.mark.sipp


async def _until(condition, limit_s: float = 10.0) -> None:
    """Poll a condition (bounded) instead of sleeping a guessed time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.02)


def test_register_answers_the_challenge_and_refreshes(sipp):
    registrar = sipp("uas_register.xml")

    async def go():
        ua = UaConfig(trunk_uri=registrar.uri, username="dialer", password="s3cret")
        trunk = SipTrunk(SipTrunkConfig(ua=ua, register=True, keepalive_interval_s=None))
        await trunk.start()
        first = trunk.health()
        # the registrar exits after the refresh (80% of the granted 1 s) is done
        await _until(lambda: registrar.process.poll() is not None)
        await trunk.stop()
        return first

    first = asyncio.run(go())
    assert registrar.wait() == 0, registrar.errors()
    assert first.healthy
    log = registrar.messages()
    call_ids = set(re.findall(r"^Call-ID: (.*)$", log, re.M))
    assert len(call_ids) == 1  # refreshes reuse the registration's Call-ID
    cseqs = [int(n) for n in re.findall(r"^CSeq: (\d+) REGISTER", log, re.M)]
    assert cseqs == sorted(cseqs) and len(set(cseqs)) == 4


def test_keepalive_marks_a_silent_trunk_unhealthy(sipp):
    peer = sipp("uas_options.xml")

    async def go():
        ua = UaConfig(trunk_uri=peer.uri, timers=Timers(t1=0.02, t2=0.1, t4=0.2))
        trunk = SipTrunk(SipTrunkConfig(ua=ua, keepalive_interval_s=0.2))
        await trunk.start()
        await _until(lambda: trunk.health().reason != "not yet used")
        alive = trunk.health()
        # sipp has gone after one answer; Timer F (64*T1 = 1.28 s) fires on the next OPTIONS
        await _until(lambda: not trunk.health().healthy)
        dead = trunk.health()
        await trunk.stop()
        return alive, dead

    alive, dead = asyncio.run(go())
    assert peer.wait() == 0, peer.errors()
    assert alive.healthy and alive.reason == "trunk answers"
    assert not dead.healthy and "OPTIONS keepalive" in dead.reason
    assert peer.sent_and_received()[0].startswith("received OPTIONS")


def test_with_keepalives_off_a_silent_trunk_is_probed_until_it_answers(sipp):
    """INVITEs nobody answers make the trunk unhealthy, which holds dialing: no
    call goes to it any more, so the trunk is probed with OPTIONS (even with
    keepalives off) and is healthy again once one is answered."""
    port = free_udp_port()

    async def go():
        ua = UaConfig(trunk_uri=f"sip:127.0.0.1:{port}", timers=Timers(t1=0.02, t2=0.1, t4=0.2))
        config = SipTrunkConfig(ua=ua, keepalive_interval_s=None, unhealthy_probe_s=0.2)
        trunk = SipTrunk(config)
        await trunk.start()
        for number in range(ua.unhealthy_after):
            request = OriginateRequest(f"call-{number}", "+989121234567", "+982100000000", 5)
            await trunk.originate(request, lambda _progress: None)
        await _until(lambda: not trunk.health().healthy)
        silent = trunk.health()
        peer = await asyncio.to_thread(sipp, "uas_options.xml", port=port)
        await _until(lambda: trunk.health().reason == "trunk answers")
        back = trunk.health()
        await trunk.stop()
        return silent, back, peer

    silent, back, peer = asyncio.run(go())
    assert not silent.healthy and "did not answer 3 requests in a row" in silent.reason
    assert back.healthy and back.reason == "trunk answers"
    assert peer.wait() == 0, peer.errors()
    assert peer.sent_and_received()[0].startswith("received OPTIONS")


def test_stopping_ends_a_call_whose_cancel_the_trunk_never_finishes(sipp):
    """Hung up while ringing, the trunk answers the CANCEL but never sends the
    487: stopping the trunk still reports the call ended (its row is closed)."""
    peer = sipp("uas_ring_deaf_to_cancel.xml")

    async def go():
        # Stopping waits Timer B (64 x T1) for the 487: 3.2 s, not 6.4 s.
        trunk = trunk_for(peer.uri, timers=Timers(t1=0.05, t2=0.2, t4=0.3))
        await trunk.start()
        recorder = Recorder()
        request = OriginateRequest("call-1", "+989121234567", "+982100000000", 60)
        await trunk.originate(request, recorder)
        await _until(lambda: "ringing" in recorder.phases)
        await trunk.stop()
        return recorder

    recorder = asyncio.run(go())
    assert peer.wait() == 0, peer.errors()
    assert recorder.phases == ["dialing", "ringing", "ended"]
    assert recorder.final.outcome == "failed"
    assert recorder.final.sip_reason == "dialer stopped before the trunk ended the call"
