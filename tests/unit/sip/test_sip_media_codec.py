"""G.711 tables, RTP packets and the SSRC/sequence/timestamp rewrite of the bridge."""

from __future__ import annotations

import array
import itertools
import warnings

import pytest

from dialer.sip import g711
from dialer.sip.audio import Prompt, read_wav_pcm8k, write_default_wav
from dialer.sip.outcomes import outcome_for_status
from dialer.sip.rtp import RtpPacket, _OutStream
from dialer.sip.sdp import PCMA, PCMU, LocalSession, parse_sdp

ALL_SAMPLES = array.array("h", range(-32768, 32768)).tobytes()


@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_g711_matches_the_reference_coder(codec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    lin2x = audioop.lin2ulaw if codec == PCMU else audioop.lin2alaw
    x2lin = audioop.ulaw2lin if codec == PCMU else audioop.alaw2lin
    assert g711.encode(ALL_SAMPLES, codec) == lin2x(ALL_SAMPLES, 2)
    every_byte = bytes(range(256))
    assert g711.decode(every_byte, codec).tobytes() == x2lin(every_byte, 2)


def test_pcma_is_not_mu_law():
    assert g711.encode(ALL_SAMPLES, PCMA) != g711.encode(ALL_SAMPLES, PCMU)
    silence = array.array("h", [0] * 4).tobytes()
    assert g711.encode(silence, PCMU) == b"\xff" * 4
    assert g711.encode(silence, PCMA) == b"\xd5" * 4


def test_transcode_table_round_trips_closely():
    to_a = g711.transcode_table(PCMU, PCMA)
    back = g711.transcode_table(PCMA, PCMU)
    ulaw = bytes(range(256))
    pcm = g711.decode(ulaw, PCMU)
    again = g711.decode(ulaw.translate(to_a).translate(back), PCMU)
    assert max(abs(a - b) for a, b in zip(pcm, again, strict=True)) <= 1024


def test_rtp_packet_round_trip_and_padding():
    packet = RtpPacket(8, 65535, 4294967000, 0xDEADBEEF, b"\xd5" * 160, marker=True)
    assert RtpPacket.parse(packet.to_bytes()) == packet
    padded = bytearray(packet.to_bytes() + b"\x00\x00\x03")
    padded[0] |= 0x20
    assert RtpPacket.parse(bytes(padded)).payload == b"\xd5" * 160


def test_bridge_rewrite_keeps_one_stream_across_sources():
    out = _OutStream()
    first = [
        out.rewrite(RtpPacket(0, 100 + i, 1000 + 160 * i, 111, b"x"), 0, b"x") for i in range(3)
    ]
    second = [out.rewrite(RtpPacket(0, 9 + i, 50 + 160 * i, 222, b"y"), 0, b"y") for i in range(3)]
    stream = first + second
    assert {p.ssrc for p in stream} == {out.ssrc}
    seqs = [p.sequence for p in stream]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    stamps = [p.timestamp for p in stream]
    assert all((b - a) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(stamps))
    assert stream[0].marker and stream[3].marker and not stream[4].marker


def test_sdp_offer_and_answer():
    offer = LocalSession(address="127.0.0.1", port=40000).offer().decode()
    assert "m=audio 40000 RTP/AVP 0 8 101" in offer
    assert "a=rtpmap:8 PCMA/8000" in offer and "a=rtpmap:101 telephone-event/8000" in offer
    answer = parse_sdp(b"v=0\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8 101\r\n")
    assert (answer.address, answer.port) == ("10.1.1.1", 5004)
    assert answer.choose_codec((PCMU, PCMA)) == PCMA


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "answered"),
        (486, "busy"),
        (600, "busy"),
        (480, "no_answer"),
        (408, "no_answer"),
        (487, "no_answer"),
        (603, "declined"),
        (404, "invalid_number"),
        (484, "invalid_number"),
        (604, "invalid_number"),
        (503, "failed"),
        (502, "failed"),
        (403, "failed"),
        (302, "failed"),
    ],
)
def test_outcome_mapping(status, outcome):
    assert outcome_for_status(status).value == outcome


def test_default_prompt_and_wav_conversion(tmp_path):
    prompt = Prompt.load(None)
    assert 1.0 < prompt.seconds < 2.0
    wav = write_default_wav(tmp_path / "abandon.wav")
    assert Prompt.load(wav) == prompt
    assert len(read_wav_pcm8k(wav.read_bytes())) == 2 * len(prompt.pcmu)
