"""SIP over TCP: whole messages out of a byte stream whatever the read sizes
(RFC 3261 18.3), and a stream that cannot be framed is named."""

from __future__ import annotations

from dialer.sip.tcp import MAX_HEADER_BYTES, StreamFramer

BYE = (
    b"BYE sip:dialer@10.0.0.1:5060;transport=tcp SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 10.0.0.2:5060;branch=z9hG4bKb\r\n"
    b"From: <sip:p@10.0.0.2>;tag=a\r\nTo: <sip:d@10.0.0.1>;tag=b\r\n"
    b"Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
)
OK_WITH_BODY = (
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKi\r\n"
    b"f: <sip:d@10.0.0.1>;tag=b\r\nt: <sip:p@10.0.0.2>;tag=a\r\ni: c2\r\n"
    b"CSeq: 1 INVITE\r\nl: 12\r\nc: application/sdp\r\n\r\nv=0\r\ns=-\r\n\r\n"
)


def test_one_byte_at_a_time_gives_each_message_once_complete() -> None:
    framer = StreamFramer()
    stream = BYE + OK_WITH_BODY
    found: list[bytes] = []
    for i in range(len(stream)):
        found += framer.feed(stream[i : i + 1])
        if i < len(BYE) - 1:
            assert not found
    assert found == [BYE, OK_WITH_BODY]
    assert framer.broken is None


def test_messages_packed_into_one_read_with_keepalives_between() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n" + BYE + b"\r\n" + OK_WITH_BODY + BYE[:10]) == [
        BYE,
        OK_WITH_BODY,
    ]
    assert framer.feed(BYE[10:]) == [BYE]


def test_a_body_with_a_blank_line_inside_is_cut_by_its_length() -> None:
    body = b"a=x\r\n\r\nb=y\r\n"
    msg = OK_WITH_BODY.replace(b"l: 12", f"l: {len(body)}".encode()).replace(
        b"v=0\r\ns=-\r\n\r\n", body
    )
    assert StreamFramer().feed(msg + BYE) == [msg, BYE]


def test_no_content_length_breaks_the_stream() -> None:
    framer = StreamFramer()
    assert framer.feed(BYE + BYE.replace(b"Content-Length: 0\r\n", b"")) == [BYE]
    assert framer.broken == "a message without Content-Length on a stream"
    assert framer.feed(BYE) == []


def test_endless_headers_and_huge_bodies_break_the_stream() -> None:
    endless = StreamFramer()
    assert endless.feed(b"INVITE sip:x SIP/2.0\r\n" + b"X: y\r\n" * MAX_HEADER_BYTES) == []
    assert endless.broken is not None and "no end of headers" in endless.broken
    huge = StreamFramer()
    assert huge.feed(BYE.replace(b"Content-Length: 0", b"Content-Length: 99999999")) == []
    assert huge.broken is not None and "Content-Length 99999999" in huge.broken
