"""The same scenarios through kamailio as a record-routing proxy.

This pass catches ACK/BYE routing bugs: in-dialog requests must follow the
route set (kamailio's Record-Route) instead of going straight to the Contact.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.integration.sip.helpers import place_call

pytestmark = pytest.mark.sipp


def _blocks(peer, first_line: str) -> list[str]:
    """Messages sipp received whose start line begins with ``first_line``."""
    return [
        block
        for block in peer.messages().split("-----------------------------------------------")
        if "message received" in block and re.search(rf"^{re.escape(first_line)}", block, re.M)
    ]


def _via_proxy(block: str, proxy, end_to_end: bool = True) -> bool:
    """Top Via is the proxy's; an end-to-end request also keeps ours below it."""
    vias = re.findall(r"^Via: (.*)$", block, re.M)
    return len(vias) >= (2 if end_to_end else 1) and f"127.0.0.1:{proxy.port}" in vias[0]


@pytest.mark.parametrize(
    ("status", "reason", "outcome"),
    [
        (486, "Busy Here", "busy"),
        (603, "Decline", "declined"),
        (404, "Not Found", "invalid_number"),
    ],
)
def test_final_response_through_proxy(sipp, kamailio, status, reason, outcome):
    peer = sipp("uas_final.xml", keys={"status": str(status), "reason": reason})
    rec, _ = place_call(peer.uri, outbound_proxy=kamailio.uri)
    assert peer.wait() == 0, peer.errors()
    assert (rec.final.outcome, rec.final.sip_status) == (outcome, status)
    invite = _blocks(peer, "INVITE sip:")[0]
    assert _via_proxy(invite, kamailio)


def test_cancel_through_proxy(sipp, kamailio):
    peer = sipp("uas_ring_cancel.xml")
    rec, _ = place_call(peer.uri, ring_timeout_s=0.5, outbound_proxy=kamailio.uri)
    assert peer.wait() == 0, peer.errors()
    assert (rec.final.outcome, rec.final.sip_status) == ("no_answer", 487)
    assert _via_proxy(_blocks(peer, "CANCEL sip:")[0], kamailio, end_to_end=False)  # hop-by-hop


def test_ack_and_bye_follow_the_record_route(sipp, kamailio):
    async def hang_up(trunk, call_id):
        await asyncio.sleep(0.2)
        await trunk.hang_up(call_id)

    peer = sipp("uas_answer_local_bye.xml")
    rec, _ = place_call(peer.uri, outbound_proxy=kamailio.uri, while_answered=hang_up)
    assert peer.wait() == 0, peer.errors()
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "local hangup")
    ack = _blocks(peer, "ACK sip:")[0]
    bye = _blocks(peer, "BYE sip:")[0]
    assert _via_proxy(ack, kamailio) and _via_proxy(bye, kamailio)


@pytest.mark.parametrize("scenario", ["uas_reinvite.xml", "uas_200_retransmitted.xml"])
def test_far_end_requests_through_proxy(sipp, kamailio, scenario):
    peer = sipp(scenario)
    rec, _ = place_call(peer.uri, outbound_proxy=kamailio.uri)
    assert peer.wait() == 0, f"{peer.errors()}\n{peer.messages()[-2500:]}"
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "remote hangup")
    assert all(_via_proxy(ack, kamailio) for ack in _blocks(peer, "ACK sip:"))


def test_digest_401_through_proxy(sipp, kamailio):
    peer = sipp("uas_auth_401.xml")
    rec, _ = place_call(peer.uri, outbound_proxy=kamailio.uri, username="dialer", password="s3cret")
    assert peer.wait() == 0, peer.errors()
    assert rec.final.outcome == "answered"
