"""SIP-over-WebSocket frames (RFC 7118: one whole message per frame) and the
measurement of what a browser leg heard."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dialer.sip.message import SipParseError
from dialer.webphone.framing import new_request, parse_frame
from dialer.webphone.hearing import Hearing

OPTIONS = (
    "OPTIONS sip:webphone.invalid SIP/2.0\r\n"
    "Via: SIP/2.0/WS x.invalid;branch=z9hG4bK77\r\n"
    "From: <sip:agent-1@webphone.invalid>;tag=1\r\n"
    "To: <sip:webphone.invalid>\r\n"
    "Call-ID: c1\r\n"
    "CSeq: 3 OPTIONS\r\n"
)


def test_a_text_frame_and_a_binary_frame_parse_alike() -> None:
    frame = OPTIONS + "Content-Length: 0\r\n\r\n"
    assert parse_frame(frame).method == "OPTIONS"  # type: ignore[union-attr]
    assert parse_frame(frame.encode()).call_id == "c1"  # type: ignore[union-attr]


def test_a_frame_of_crlf_is_a_keepalive() -> None:
    assert parse_frame("\r\n\r\n") is None
    assert parse_frame(b"\r\n") is None


@pytest.mark.parametrize(
    "frame",
    [
        OPTIONS + "Content-Length: 0\r\n\r\n" + OPTIONS + "Content-Length: 0\r\n\r\n",
        OPTIONS + "Content-Length: 10\r\n\r\nshort",
        OPTIONS.replace("CSeq: 3 OPTIONS", "CSeq: 3 INVITE") + "\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        OPTIONS,  # no end of headers
        b"\xff\xfe" + OPTIONS.encode() + b"\r\n",
    ],
)
def test_what_is_not_exactly_one_message_is_refused(frame: str | bytes) -> None:
    with pytest.raises(SipParseError):
        parse_frame(frame)


def test_a_request_has_a_websocket_via_and_its_body_length() -> None:
    request = new_request(
        "INVITE", "sip:a@b.invalid;transport=ws", call_id="x", cseq=1,
        from_="<sip:dialer@d>;tag=1", to="<sip:agent-1@d>", body=b"v=0\r\n",
    )  # fmt: skip
    again = parse_frame(request.to_bytes().decode())
    assert again is not None
    assert (again.get("Via") or "").startswith("SIP/2.0/WS dialer.invalid;branch=z9hG4bK")
    assert again.body == b"v=0\r\n"
    assert again.get("Content-Type") == "application/sdp"


def tone(frequency: float, seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(8000 * seconds)) / 8000
    return (amplitude * 32767 * np.sin(2 * math.pi * frequency * t)).astype(np.int16)


@pytest.mark.parametrize("frequency", [440.0, 600.0, 1000.0, 1633.0])
def test_hearing_finds_a_tone_and_its_level(frequency: float) -> None:
    hearing = Hearing()
    samples = tone(frequency, 2.0, 0.5)
    for start in range(0, samples.size, 160):  # in 20 ms frames, as they arrive
        hearing.feed(samples[start : start + 160].reshape(1, -1))
    heard = hearing.heard()
    assert heard.seconds == 2.0
    assert heard.frequency_hz is not None and abs(heard.frequency_hz - frequency) < 3
    assert heard.level_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.2)


def test_silence_has_no_frequency_and_reset_forgets() -> None:
    hearing = Hearing()
    hearing.feed(np.zeros(8000, dtype=np.int16))
    assert hearing.heard().frequency_hz is None
    assert hearing.heard().level_dbfs == -120.0
    hearing.feed(tone(600, 1.0, 0.3))
    hearing.reset()
    assert hearing.heard().seconds == 0.0
