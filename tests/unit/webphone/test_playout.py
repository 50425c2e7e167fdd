"""What the gateway plays into a browser leg: G.711 packets of 20 ms, the
queued audio first and silence after, in the law the browser chose."""

from __future__ import annotations

import asyncio

from dialer.sip import g711
from dialer.sip.sdp import PCMA, PCMU
from dialer.webphone.media import chosen_codec
from dialer.webphone.tracks import FRAME_SAMPLES, PlayoutTrack, encode

ANSWER = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF {}\r\na=rtpmap:0 PCMU/8000\r\n"


def test_the_table_lookup_encodes_as_the_sip_stack_does() -> None:
    pcm = bytes(range(256)) * 256  # every 16-bit pattern
    for codec in (PCMU, PCMA):
        assert encode(pcm, codec) == g711.encode(pcm, codec)
    assert encode(b"\x01\x02\x03", PCMU) == g711.encode(b"\x01\x02", PCMU)


def test_the_answer_picks_the_law() -> None:
    assert chosen_codec(ANSWER.format("0 8")) == PCMU
    assert chosen_codec(ANSWER.format("8")) == PCMA
    assert chosen_codec(ANSWER.format("8 0 101")) == PCMU


def test_queued_audio_then_silence_in_the_chosen_law() -> None:
    async def frames() -> list[bytes]:
        track = PlayoutTrack()
        pcm = bytes(range(256)) * 3  # 384 samples: two frames and a part
        track.play(pcm)
        track.codec = PCMA  # the browser answered PCMA after the audio was queued
        out = [bytes(await track.recv()) for _ in range(4)]
        expected = g711.encode(pcm, PCMU).translate(g711.transcode_table(PCMU, PCMA))
        assert out[0] == expected[:FRAME_SAMPLES] and out[1] == expected[FRAME_SAMPLES:320]
        assert not track.playing
        track.stop()
        return out

    out = asyncio.run(frames())
    assert all(len(frame) == FRAME_SAMPLES for frame in out)
    assert out[3] == g711.encode(bytes(2 * FRAME_SAMPLES), PCMA)


def test_packets_are_paced_and_stamped_in_samples() -> None:
    async def stamps() -> tuple[list[int], float]:
        track = PlayoutTrack()
        loop = asyncio.get_running_loop()
        start = loop.time()
        pts = [(await track.recv()).pts or 0 for _ in range(11)]
        return pts, loop.time() - start

    pts, elapsed = asyncio.run(stamps())
    assert pts == [FRAME_SAMPLES * i for i in range(11)]
    assert elapsed >= 0.19  # ten frames after the first: 200 ms of audio
