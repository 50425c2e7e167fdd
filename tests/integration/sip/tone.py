"""A pure tone as the customer's voice, and a measure of which tone arrived.

`write_tone_pcap` writes the RTP stream of a sine tone (G.711) as a pcap
that sipp's `play_pcap_audio` plays; `tone_levels` measures a recording with
the Goertzel algorithm, the power at each asked frequency."""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Iterable
from pathlib import Path

from dialer.sip import g711

RATE = 8000
FRAME = 160


def write_tone_pcap(path: Path, frequency: float, seconds: float, codec: int = 8) -> int:
    """Write the tone as RTP packets (20 ms each) in a pcap; returns the packet count."""
    samples = int(RATE * seconds)
    pcm = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * n / RATE)))
        for n in range(samples)
    )
    payload = g711.encode(pcm, codec)
    frames = [payload[i : i + FRAME] for i in range(0, len(payload) - FRAME + 1, FRAME)]
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for index, frame in enumerate(frames):
            rtp = struct.pack("!BBHII", 0x80, codec, index, index * FRAME, 0x1234) + frame
            udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
            ip = _ipv4_header(len(udp)) + udp
            ether = b"\x00" * 12 + b"\x08\x00" + ip
            micros = index * 20_000
            out.write(
                struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, *[len(ether)] * 2)
            )
            out.write(ether)
    return len(frames)


def _ipv4_header(payload_length: int) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + payload_length, 0, 0, 64, 17, 0,
        bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]),
    )  # fmt: skip
    total = sum(struct.unpack("!10H", header))
    total = (total & 0xFFFF) + (total >> 16)
    checksum = ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF
    return header[:10] + struct.pack("!H", checksum) + header[12:]


def read_wav_samples(path: Path) -> list[int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1, "16-bit mono expected"
        assert wav.getframerate() == RATE, wav.getframerate()
        data = wav.readframes(wav.getnframes())
    return list(struct.unpack(f"<{len(data) // 2}h", data))


def tone_levels(samples: list[int], frequencies: Iterable[float]) -> dict[float, float]:
    """Goertzel power at each frequency, normalised by the number of samples."""
    levels = {}
    for frequency in frequencies:
        coefficient = 2 * math.cos(2 * math.pi * frequency / RATE)
        before, before2 = 0.0, 0.0
        for sample in samples:
            before, before2 = sample + coefficient * before - before2, before
        power = before2**2 + before**2 - coefficient * before * before2
        levels[frequency] = power / max(1, len(samples)) ** 2
    return levels
