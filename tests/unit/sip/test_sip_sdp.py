"""SDP offer/answer (RFC 3264): directions, codec choice, DTMF, and the SDP we refuse."""

from __future__ import annotations

import pytest

from dialer.sip.sdp import PCMA, PCMU, LocalSession, SdpError, parse_sdp


def sdp(
    media: str = "m=audio 5004 RTP/AVP 0 8 101", *, session: str = "", extra: str = ""
) -> bytes:
    lines = [
        "v=0",
        "o=peer 1 1 IN IP4 10.1.1.1",
        "s=-",
        *([session] if session else []),
        "c=IN IP4 10.1.1.1",
        "t=0 0",
        media,
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        *([extra] if extra else []),
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def attribute_lines(body: bytes) -> list[str]:
    return [line for line in body.decode().splitlines() if line.startswith("a=")]


@pytest.mark.parametrize(
    ("offered", "answered", "peer_receives"),
    [
        ("sendrecv", "sendrecv", True),
        ("sendonly", "recvonly", False),
        ("recvonly", "sendonly", True),
        ("inactive", "inactive", False),
    ],
)
def test_answer_direction_mirrors_the_offer(offered, answered, peer_receives):
    offer = parse_sdp(sdp(extra=f"a={offered}"))
    assert offer.direction == offered
    assert offer.peer_receives is peer_receives
    answer = LocalSession("127.0.0.1", 40000).answer(offer, PCMU)
    directions = [
        a
        for a in attribute_lines(answer)
        if a[2:] in ("sendrecv", "sendonly", "recvonly", "inactive")
    ]
    assert directions == [f"a={answered}"]


def test_session_level_direction_applies_to_the_stream():
    assert parse_sdp(sdp(session="a=sendonly")).direction == "sendonly"
    assert parse_sdp(sdp(session="a=sendonly", extra="a=sendrecv")).direction == "sendrecv"


def test_no_direction_means_sendrecv_and_our_offer_is_sendrecv():
    assert parse_sdp(sdp()).direction == "sendrecv"
    assert "a=sendrecv" in attribute_lines(LocalSession("127.0.0.1", 40000).offer())


def test_rfc2543_hold_address_means_do_not_send():
    body = sdp().replace(b"c=IN IP4 10.1.1.1", b"c=IN IP4 0.0.0.0")
    assert not parse_sdp(body).peer_receives


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (sdp("m=audio 70000 RTP/AVP 0"), "audio port 70000 out of range"),
        (sdp("m=audio 0 RTP/AVP 0"), "audio stream rejected (port 0)"),
        (sdp("m=audio abc RTP/AVP 0"), "audio port is not a number"),
        (sdp("m=audio -5 RTP/AVP 0"), "audio port is not a number"),
        (sdp("m=audio 5004"), "malformed m= line"),
        (sdp("m=audio 5004 RTP/SAVP 0"), "unsupported audio transport 'RTP/SAVP'"),
        (sdp("m=video 5004 RTP/AVP 31"), "no audio stream"),
        (
            sdp().replace(b"c=IN IP4 10.1.1.1\r\n", b""),
            "no connection address for the audio stream",
        ),
        (
            sdp().replace(b"c=IN IP4 10.1.1.1", b"c=IN IP6 ::1"),
            "unsupported address type 'IP6' in c= (IPv4 only)",
        ),
        (sdp().replace(b"c=IN IP4 10.1.1.1", b"c=IN IP4"), "malformed c= line"),
        (
            sdp().replace(b"c=IN IP4 10.1.1.1", b"c=IN IP4 bad_host!"),
            "unusable connection address in c=",
        ),
        (b"\xff\xfe", "SDP is not UTF-8"),
        (b"", "no audio stream"),
    ],
)
def test_unusable_sdp_is_refused_with_a_reason(body, problem):
    with pytest.raises(SdpError) as raised:
        parse_sdp(body)
    assert str(raised.value) == problem


def test_media_level_address_wins_over_the_session_one():
    body = sdp(extra="c=IN IP4 10.2.2.2")
    assert parse_sdp(body).address == "10.2.2.2"


def test_host_name_in_c_is_kept_for_one_lookup():
    offer = parse_sdp(sdp().replace(b"c=IN IP4 10.1.1.1", b"c=IN IP4 media.example.com"))
    assert offer.address == "media.example.com" and not offer.is_literal
    assert parse_sdp(sdp()).is_literal


def test_codec_is_chosen_by_our_preference():
    offer = parse_sdp(sdp("m=audio 5004 RTP/AVP 8 0 101"))
    assert offer.choose_codec((PCMU, PCMA)) == PCMU
    assert offer.choose_codec((PCMA, PCMU)) == PCMA
    assert offer.choose_codec((PCMA,)) == PCMA
    with pytest.raises(SdpError, match="no common codec"):
        parse_sdp(sdp("m=audio 5004 RTP/AVP 18 101")).choose_codec((PCMU, PCMA))


def test_offer_lists_our_codecs_in_order_and_dtmf_only_when_on():
    with_dtmf = LocalSession("127.0.0.1", 40000, codecs=(PCMA, PCMU)).offer().decode()
    assert "m=audio 40000 RTP/AVP 8 0 101" in with_dtmf
    assert "a=rtpmap:101 telephone-event/8000" in with_dtmf
    without = LocalSession("127.0.0.1", 40000, codecs=(PCMU,), dtmf=False).offer().decode()
    assert "m=audio 40000 RTP/AVP 0\r\n" in without
    assert "telephone-event" not in without and "PCMA" not in without


def test_answer_uses_the_peers_dtmf_payload_type():
    offer = parse_sdp(
        sdp("m=audio 5004 RTP/AVP 8 96").replace(
            b"a=rtpmap:101 telephone-event/8000", b"a=rtpmap:96 telephone-event/8000"
        )
    )
    assert offer.dtmf_payload_type == 96
    answer = LocalSession("127.0.0.1", 40000).answer(offer, PCMA).decode()
    assert "m=audio 40000 RTP/AVP 8 96\r\n" in answer
    assert "a=rtpmap:96 telephone-event/8000" in answer
    no_dtmf = LocalSession("127.0.0.1", 40000, dtmf=False).answer(offer, PCMA).decode()
    assert "m=audio 40000 RTP/AVP 8\r\n" in no_dtmf
    plain = parse_sdp(sdp("m=audio 5004 RTP/AVP 0"))
    assert plain.dtmf_payload_type is None
    assert "telephone-event" not in LocalSession("127.0.0.1", 40000).answer(plain, PCMU).decode()


def test_answer_refuses_other_streams_in_place():
    offer = parse_sdp(
        b"v=0\r\no=peer 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n"
        b"m=video 6000 RTP/AVP 31\r\na=sendrecv\r\nm=audio 5004 RTP/AVP 0\r\na=sendonly\r\n"
    )
    assert (offer.port, offer.audio_index, offer.direction) == (5004, 1, "sendonly")
    media = [
        line
        for line in LocalSession("127.0.0.1", 40000).answer(offer, PCMU).decode().splitlines()
        if line.startswith("m=")
    ]
    assert media == ["m=video 0 RTP/AVP 31", "m=audio 40000 RTP/AVP 0"]


def test_version_goes_up_only_when_our_sdp_changes():
    local = LocalSession("127.0.0.1", 40000)

    def version(body: bytes) -> int:
        origin = next(line for line in body.decode().splitlines() if line.startswith("o="))
        return int(origin.split()[2])

    first = version(local.offer())
    assert version(local.offer()) == first
    hold = parse_sdp(sdp(extra="a=sendonly"))
    assert version(local.answer(hold, PCMU)) == first + 1
    assert version(local.answer(hold, PCMU)) == first + 1
    assert local.last_body == local.answer(hold, PCMU)
