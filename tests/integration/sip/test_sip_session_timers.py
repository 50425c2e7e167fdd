"""Session timers (RFC 4028) against sipp, with intervals of a few seconds.

sipp's receive timeouts make each scenario fail when our refresh or BYE does
not come in time; the tests check what we asked for and how each call ended.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from dialer.carrier import OriginateRequest
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import UaConfig
from tests.integration.sip.helpers import FAST, Recorder

pytestmark = pytest.mark.sipp


def timed_call(uri: str, **ua: object) -> tuple[Recorder, float]:
    """Place one call and let the far end or the session timer end it; seconds answered."""

    async def go() -> tuple[Recorder, float]:
        loop = asyncio.get_running_loop()
        config = UaConfig(trunk_uri=uri, timers=FAST, **ua)  # type: ignore[arg-type]
        trunk = SipTrunk(SipTrunkConfig(ua=config, keepalive_interval_s=None))
        await trunk.start()
        rec = Recorder()
        try:
            await trunk.originate(OriginateRequest("call-1", "+989121234567", "+98210", 5), rec)
            await asyncio.wait_for(rec.answered.wait(), 5)
            answered_at = loop.time()
            await asyncio.wait_for(rec.ended.wait(), 15)
            talked = loop.time() - answered_at
            await asyncio.sleep(0.2)  # let sipp's last retransmissions be answered
        finally:
            await trunk.stop()
        return rec, talked

    return asyncio.run(go())


def _assert_peer_ok(peer) -> None:
    code = peer.wait()
    assert code == 0, f"sipp exit {code}\n{peer.errors()}\n{peer.messages()[-3000:]}"


def _received(peer, start: str) -> list[str]:
    blocks = peer.messages().split("----------------------------------------------")
    return [b for b in blocks if "message received" in b and re.search(rf"^{start}", b, re.M)]


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "kamailio"])
@pytest.mark.parametrize(
    ("scenario", "method"),
    [("uas_timer_refresh_update.xml", "UPDATE"), ("uas_timer_refresh_reinvite.xml", "INVITE")],
)
def test_we_refresh_within_the_interval(sipp, request, scenario, method, through_proxy):
    peer = sipp(scenario)
    proxy = request.getfixturevalue("kamailio").uri if through_proxy else None
    rec, _ = timed_call(peer.uri, session_expires_s=2, min_se_s=1, outbound_proxy=proxy)
    _assert_peer_ok(peer)  # each refresh came within sipp's 2 s receive timeout
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "remote hangup")
    invite = _received(peer, "INVITE sip:")[0]
    assert re.search(r"^Supported: timer\r?$", invite, re.M)
    assert re.search(r"^Session-Expires: 2\r?$", invite, re.M)
    assert re.search(r"^Min-SE: 1\r?$", invite, re.M)
    refreshes = _received(peer, f"{method} sip:")[1 if method == "INVITE" else 0 :]
    assert refreshes
    for refresh in refreshes:
        assert re.search(r"^Session-Expires: 2;refresher=uac\r?$", refresh, re.M)
    if method == "INVITE":
        assert re.search(r"^m=audio \d+ RTP/AVP 0 8 101", refreshes[0], re.M)  # our SDP again
        assert re.search(r"^a=sendrecv", refreshes[0], re.M)


def test_peer_that_should_refresh_and_does_not_gets_bye(sipp):
    peer = sipp("uas_timer_peer_silent.xml")
    rec, talked = timed_call(peer.uri, session_expires_s=3, min_se_s=1)
    _assert_peer_ok(peer)  # sipp got our BYE
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "session timer expired")
    assert talked >= 2.0  # not before expiry minus min(32, 3/3)


def test_peer_refreshes_restart_our_expiry(sipp):
    peer = sipp("uas_timer_peer_refreshes.xml")
    rec, talked = timed_call(peer.uri, session_expires_s=3, min_se_s=1)
    _assert_peer_ok(peer)  # both refreshes answered with refresher=uac and Require: timer
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "remote hangup")
    assert talked >= 4.0  # lived past the first expiry because each refresh restarted it


def test_422_is_retried_once_with_its_min_se(sipp):
    peer = sipp("uas_timer_422.xml")
    rec, _ = timed_call(peer.uri, session_expires_s=90, min_se_s=90)
    _assert_peer_ok(peer)
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "remote hangup")
    first, second = _received(peer, "INVITE sip:")
    assert re.search(r"^Session-Expires: 90\r?$", first, re.M)
    assert re.search(r"^Session-Expires: 600\r?$", second, re.M)
    assert re.search(r"^Min-SE: 600\r?$", second, re.M)


def test_no_session_timer_is_asked_for_when_turned_off(sipp):
    peer = sipp("uas_reinvite.xml")
    rec, _ = timed_call(peer.uri, session_expires_s=0)
    _assert_peer_ok(peer)
    assert rec.final.sip_reason == "remote hangup"
    invite = _received(peer, "INVITE sip:")[0]
    assert "Session-Expires" not in invite and "Min-SE" not in invite
