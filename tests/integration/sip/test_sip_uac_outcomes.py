"""The UAC against sipp: every outcome, auth, CANCEL, BYE, re-INVITE, retransmissions."""

from __future__ import annotations

import asyncio
import re
import socket

import pytest

from dialer.sip.ua import Timers
from tests.integration.sip.helpers import place_call

pytestmark = pytest.mark.sipp

FINALS = [
    (486, "Busy Here", "busy"),
    (600, "Busy Everywhere", "busy"),
    (480, "Temporarily Unavailable", "no_answer"),
    (408, "Request Timeout", "no_answer"),
    (603, "Decline", "declined"),
    (404, "Not Found", "invalid_number"),
    (484, "Address Incomplete", "invalid_number"),
    (604, "Does Not Exist Anywhere", "invalid_number"),
    (503, "Service Unavailable", "failed"),
    (500, "Server Internal Error", "failed"),
    (403, "Forbidden", "failed"),
    (302, "Moved Temporarily", "failed"),
]


def _assert_peer_ok(peer, code: int) -> None:
    assert code == 0, f"sipp exit {code}\n{peer.errors()}\n{peer.messages()[-3000:]}"


@pytest.mark.parametrize(("status", "reason", "outcome"), FINALS)
def test_final_response_maps_to_outcome_and_is_acked(sipp, status, reason, outcome):
    peer = sipp("uas_final.xml", keys={"status": str(status), "reason": reason})
    rec, _ = place_call(peer.uri)
    _assert_peer_ok(peer, peer.wait())
    assert rec.phases == ["dialing", "ringing", "ended"]
    assert (rec.final.outcome, rec.final.sip_status, rec.final.sip_reason) == (
        outcome,
        status,
        reason,
    )
    wire = peer.sent_and_received()
    assert wire[0].startswith("received INVITE sip:+989121234567@")
    assert wire[-1].startswith("received ACK")


def test_final_without_provisional_is_acked(sipp):
    peer = sipp("uas_final_direct.xml", keys={"status": "486", "reason": "Busy Here"})
    rec, _ = place_call(peer.uri)
    _assert_peer_ok(peer, peer.wait())
    assert rec.phases == ["dialing", "ended"]
    assert rec.final.outcome == "busy"


def test_early_media_then_decline(sipp):
    peer = sipp("uas_early_media_603.xml")
    rec, _ = place_call(peer.uri)
    _assert_peer_ok(peer, peer.wait())
    assert rec.events[1].sip_status == 183
    assert (rec.final.outcome, rec.final.sip_status) == ("declined", 603)


@pytest.mark.parametrize("scenario", ["uas_auth_401.xml", "uas_auth_407.xml"])
def test_digest_challenge_is_answered(sipp, scenario):
    peer = sipp(scenario)
    rec, _ = place_call(peer.uri, username="dialer", password="s3cret")
    _assert_peer_ok(peer, peer.wait())
    assert rec.phases == ["dialing", "answered", "ended"]
    assert rec.final.outcome == "answered"
    log = peer.messages()
    header = "Authorization" if "401" in scenario else "Proxy-Authorization"
    assert re.search(rf"^{header}: Digest .*response=\"[0-9a-f]{{32}}\"", log, re.M)
    invites = re.findall(r"^INVITE sip:", log, re.M)
    assert len(invites) == 2


def test_challenge_without_credentials_fails(sipp):
    peer = sipp("uas_final_direct.xml", keys={"status": "401", "reason": "Unauthorized"})
    rec, _ = place_call(peer.uri)
    _assert_peer_ok(peer, peer.wait())
    assert (rec.final.outcome, rec.final.sip_status) == ("failed", 401)


def test_ring_timeout_sends_cancel_and_acks_487(sipp):
    peer = sipp("uas_ring_cancel.xml")
    rec, _ = place_call(peer.uri, ring_timeout_s=0.5)
    _assert_peer_ok(peer, peer.wait())
    assert rec.phases == ["dialing", "ringing", "ended"]
    assert (rec.final.outcome, rec.final.sip_status) == ("no_answer", 487)
    wire = peer.sent_and_received()
    assert [w.split()[1] for w in wire if w.startswith("received")] == ["INVITE", "CANCEL", "ACK"]


def test_record_route_and_remote_bye(sipp):
    peer = sipp("uas_answer_rr_remote_bye.xml")
    rec, _ = place_call(peer.uri)
    _assert_peer_ok(peer, peer.wait())
    assert rec.phases == ["dialing", "ringing", "answered", "ended"]
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "remote hangup")


def test_local_bye_follows_route_set(sipp):
    async def hang_up(trunk, call_id):
        await asyncio.sleep(0.2)
        await trunk.hang_up(call_id)

    peer = sipp("uas_answer_local_bye.xml")
    rec, _ = place_call(peer.uri, while_answered=hang_up)
    _assert_peer_ok(peer, peer.wait())
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "local hangup")
    log = peer.messages()
    invite_cseq = int(re.search(r"^CSeq: (\d+) INVITE", log, re.M).group(1))
    bye_cseq = int(re.search(r"^CSeq: (\d+) BYE", log, re.M).group(1))
    assert bye_cseq > invite_cseq


def test_reinvite_and_update_are_answered(sipp):
    peer = sipp("uas_reinvite.xml")
    rec, _ = place_call(peer.uri)
    _assert_peer_ok(peer, peer.wait())
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "remote hangup")


def test_retransmitted_200_gets_a_second_ack(sipp):
    peer = sipp("uas_200_retransmitted.xml")
    rec, _ = place_call(peer.uri)
    _assert_peer_ok(peer, peer.wait())
    acks = [w for w in peer.sent_and_received() if w.startswith("received ACK")]
    assert len(acks) == 2
    assert rec.final.outcome == "answered"


def test_peer_that_never_answers_hits_timer_b(sipp):
    peer = sipp("uas_silent.xml")
    quick = Timers(t1=0.05, t2=0.4, t4=0.5)  # Timer B = 64*T1 = 3.2 s
    rec, trunk = place_call(peer.uri, ring_timeout_s=30, unhealthy_after=1, timers=quick)
    peer.wait()  # sipp counts its own receive timeout as a failed call; the wire is what counts
    assert (rec.final.outcome, rec.final.sip_status) == ("failed", None)
    assert rec.final.sip_reason.startswith("Timer B")
    wire = peer.sent_and_received()
    assert all(w.startswith("received INVITE") for w in wire)
    assert len(wire) >= 5  # the first INVITE and Timer A retransmissions
    health = trunk.health()
    assert not health.healthy and "did not answer" in health.reason


def test_garbage_and_truncated_messages_are_dropped(sipp, caplog):
    async def spray(trunk):
        host, port = trunk.local_address
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for junk in (b"\x00\xff\xfe garbage", b"SIP/2.0 200 OK\r\nVia: x", b"INVITE\r\n\r\n"):
                sock.sendto(junk, (host, port))
        await asyncio.sleep(0.05)

    peer = sipp("uas_malformed.xml")
    rec, trunk = place_call(peer.uri, during=spray)
    _assert_peer_ok(peer, peer.wait())
    assert (rec.final.outcome, rec.final.sip_status) == ("busy", 486)
    assert trunk.ua.transport.malformed >= 5
    assert "dropped malformed SIP" in caplog.text


def test_second_fork_answering_is_acked_and_hung_up(sipp):
    async def hang_up_later(trunk, call_id):
        await asyncio.sleep(0.5)
        await trunk.hang_up(call_id)

    peer = sipp("uas_forked_200.xml")
    rec, _ = place_call(peer.uri, while_answered=hang_up_later)
    _assert_peer_ok(peer, peer.wait())
    assert rec.phases == ["dialing", "answered", "ended"]  # one call, whatever the forks did
    assert (rec.final.outcome, rec.final.sip_reason) == ("answered", "local hangup")
