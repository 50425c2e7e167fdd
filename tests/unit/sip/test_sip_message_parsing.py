"""SIP message parsing: what we route on, and what we refuse."""

from __future__ import annotations

import pytest

from dialer.sip.message import (
    SipParseError,
    header_param,
    parse_message,
    uri_host_port,
    uri_of,
    via_sent_by,
)

INVITE_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport=5070;received=10.0.0.1\r\n"
    b"Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr;ftag=x>\r\n"
    b"Record-Route: <sip:p3.example;lr>\r\n"
    b'f: "Dialer" <sip:+98@example>;tag=aaa\r\n'
    b"t: <sip:+9891@example>;tag=bbb\r\n"
    b"i: call-1@host\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"m: <sip:peer@10.0.0.2:5062;transport=udp>\r\n"
    b"Subject: folded\r\n  line\r\n"
    b"l: 4\r\n\r\nv=0\r\nEXTRA"
)


def test_parses_compact_headers_route_lists_and_body():
    msg = parse_message(INVITE_200)
    assert (msg.status, msg.reason, msg.call_id, msg.cseq) == (
        200,
        "OK",
        "call-1@host",
        (7, "INVITE"),
    )
    assert msg.top_via_branch == "z9hG4bKabc"
    assert msg.get_all("Record-Route") == [
        "<sip:p1.example;lr>",
        "<sip:p2.example;lr;ftag=x>",
        "<sip:p3.example;lr>",
    ]
    assert header_param(msg.get("To") or "", "tag") == "bbb"
    assert uri_of(msg.get("Contact") or "") == "sip:peer@10.0.0.2:5062;transport=udp"
    assert uri_host_port("sip:peer@10.0.0.2:5062;transport=udp") == ("10.0.0.2", 5062)
    assert msg.get("Subject") == "folded line"
    assert msg.body == b"v=0\r"[:4]
    assert via_sent_by(msg.get("Via") or "") == ("10.0.0.1", 5070)


def test_round_trip():
    msg = parse_message(INVITE_200)
    again = parse_message(msg.to_bytes())
    assert again.headers == msg.headers and again.body == msg.body


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\xff\xfe garbage",
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1",
        b"SIP/2.0 999 Nope\r\nVia: x\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nFrom: a\r\nTo: b\r\n\r\n",
        b"SIP/2.0 180 Ringing\r\nVia: x\r\nCall-ID: c\r\nFrom: a\r\nTo: b\r\n\r\n",
        b"BYE sip:x SIP/2.0\r\nVia: x\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nFrom: a\r\nTo: b\r\n\r\n",
        b"SIP/2.0 200 OK\r\nVia: x\r\nCall-ID: c\r\nCSeq: x INVITE\r\nFrom: a\r\nTo: b\r\n\r\n",
        b"SIP/2.0 200 OK\r\nVia: x\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nFrom: a\r\nTo: b\r\n"
        b"Content-Length: 400\r\n\r\nv=0\r\n",
        b"SIP/2.0 200 OK\r\nbad header line\r\n\r\n",
    ],
)
def test_malformed_input_raises_parse_error(data):
    with pytest.raises(SipParseError):
        parse_message(data)
