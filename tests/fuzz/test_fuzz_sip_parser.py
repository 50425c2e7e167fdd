"""Property tests for the SIP parser: whatever a UDP datagram holds, parsing
either returns a message or raises SipParseError (the transport drops those);
never another exception, never a hang. Bounded so CI stays fast."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.sip.message import (
    SipMessage,
    SipParseError,
    header_param,
    parse_message,
    uri_host_port,
    uri_of,
    via_sent_by,
)

INVITE = (
    b"INVITE sip:+989121234567@trunk.example SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Dialer" <sip:dialer@10.0.0.5>;tag=1928301774\r\n'
    b"To: <sip:+989121234567@trunk.example>\r\n"
    b"Call-ID: a84b4c76e66710@10.0.0.5\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:dialer@10.0.0.5:5060>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 61\r\n\r\n"
    b"v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
)
OK_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"v: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK776asdhds;rport=5060;received=1.2.3.4\r\n"
    b"Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr;ftag=x>\r\n"
    b'f: "Dialer" <sip:dialer@10.0.0.5>;tag=1928301774\r\n'
    b"t: <sip:+989121234567@trunk.example>;tag=a6c85cf\r\n"
    b"i: a84b4c76e66710@10.0.0.5\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"m: <sip:peer@10.0.0.2:5062;transport=udp>\r\n"
    b"Subject: folded\r\n  line\r\n"
    b"l: 0\r\n\r\n"
)
BYE = (
    b"BYE sip:dialer@10.0.0.5:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bKnashds10\r\n"
    b"Route: <sip:p2.example;lr>\r\n"
    b"From: <sip:+989121234567@trunk.example>;tag=a6c85cf\r\n"
    b'To: "Dialer" <sip:dialer@10.0.0.5>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@10.0.0.5\r\n"
    b"CSeq: 231 BYE\r\n"
    b"Content-Length: 0\r\n\r\n"
)
REAL_MESSAGES = (INVITE, OK_200, BYE)
FUZZ = settings(
    max_examples=int(os.environ.get("CC_FUZZ_EXAMPLES", "1000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize="CC_FUZZ_EXAMPLES" not in os.environ,
    database=None,
)
# Bytes a mutation splices in: the ones that change how a SIP message splits.
SPECIAL = st.sampled_from(
    [
        b"\r\n",
        b"\n",
        b"\r\n\r\n",
        b":",
        b";",
        b",",
        b"<",
        b">",
        b'"',
        b" ",
        b"\t",
        b"\x00",
        b"\xff",
        b"\xd9\xa1",
        b"=",
        b"SIP/2.0",
        b"-1",
        b"99999999999999999999",
    ]
)


def _parse_or_refuse(data: bytes) -> SipMessage | None:
    try:
        msg = parse_message(data)
    except SipParseError:
        return None
    _use_like_the_dialog_layer(msg)
    return msg


def _use_like_the_dialog_layer(msg: SipMessage) -> None:
    """What the transaction and dialog code read off an accepted message must
    not raise anything but SipParseError either."""
    number, method = msg.cseq
    assert isinstance(number, int) and method
    assert isinstance(msg.call_id, str)
    assert isinstance(msg.top_via_branch, str)
    msg.summary()
    for name in ("Contact", "Record-Route", "Route", "From", "To"):
        for value in msg.get_all(name):
            header_param(value, "tag")
            with contextlib.suppress(SipParseError):
                uri_host_port(uri_of(value))
    with contextlib.suppress(SipParseError):
        via_sent_by(msg.get_all("Via")[0])
    again = parse_message(msg.to_bytes())  # to_bytes always writes Content-Length
    assert _without_length(again) == _without_length(msg) and again.body == msg.body


def _without_length(msg: SipMessage) -> list[tuple[str, str]]:
    # Folding onto an empty value leaves a leading space; serialising drops it.
    return [(name, value.strip()) for name, value in msg.headers if name != "Content-Length"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(REAL_MESSAGES)))
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "flip", "special"]))
        if action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            data[where : where + draw(st.integers(1, 16))] = b""
        elif action == "flip" and where < len(data):
            data[where] ^= 1 << draw(st.integers(0, 7))
        else:
            data[where:where] = draw(SPECIAL)
    return bytes(data)


@pytest.mark.timeout(60)
@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_parse_or_refuse(data: bytes) -> None:
    _parse_or_refuse(data)


@pytest.mark.timeout(60)
@FUZZ
@given(mutated())
def test_mutated_real_messages_parse_or_refuse(data: bytes) -> None:
    _parse_or_refuse(data)


@pytest.mark.timeout(60)
@FUZZ
@given(st.sampled_from(REAL_MESSAGES), st.data())
def test_truncated_messages_parse_or_refuse(message: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(message)))
    parsed = _parse_or_refuse(message[:cut])
    if parsed is not None:
        declared = int(parsed.get("Content-Length") or 0)
        assert len(parsed.body) == declared


@pytest.mark.timeout(60)
@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Via",
                    "v",
                    "Call-ID",
                    "i",
                    "CSeq",
                    "From",
                    "f",
                    "To",
                    "t",
                    "Contact",
                    "m",
                    "Record-Route",
                    "Content-Length",
                    "l",
                    "X-Any",
                ]
            ),
            st.text(st.characters(blacklist_categories=["Cs"]), max_size=60),
        ),
        max_size=12,
    )
)
def test_random_header_values_parse_or_refuse(headers: list[tuple[str, str]]) -> None:
    lines = [b"SIP/2.0 180 Ringing"]
    lines += [f"{name}: {value}".encode() for name, value in headers]
    _parse_or_refuse(b"\r\n".join(lines) + b"\r\n\r\n")


def test_real_messages_still_parse() -> None:
    for message in REAL_MESSAGES:
        assert _parse_or_refuse(message) is not None
