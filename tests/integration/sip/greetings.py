"""Answering-machine greetings for sipp to play (``play_pcap_audio``).

A greeting is real speech (the first seconds of the voicemail message the
dialer ships, espeak-ng's voice), optionally a beep, then silence frames, as a
machine sends before it records. It is written as an RTP/UDP/IPv4/Ethernet
pcap of G.711 A-law frames, 20 ms apart, which is what sipp replays.
"""

from __future__ import annotations

import array
import math
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from dialer.sip import g711
from dialer.sip.audio import DEFAULT_VOICEMAIL_WAV, read_wav_pcm8k
from dialer.sip.sdp import PCMA

FRAME = 160  # samples per 20 ms
SILENCE = b"\xd5" * FRAME  # A-law zero
GREETING_SSRC = 0x5EED


@dataclass(frozen=True)
class Greeting:
    pcap: Path
    speech_frames: int
    beep_frames: int
    silence_frames: int

    @property
    def frames(self) -> int:
        return self.speech_frames + self.beep_frames + self.silence_frames


def write_greeting(
    path: Path, speech_s: float, beep_s: float = 0.0, silence_s: float = 0.0
) -> Greeting:
    pcm = read_wav_pcm8k(DEFAULT_VOICEMAIL_WAV.read_bytes())
    speech = _frames(g711.encode(pcm[: 2 * round(speech_s * 8000)], PCMA))
    beep = _frames(g711.encode(_tone(1000.0, beep_s), PCMA)) if beep_s else []
    silence = [SILENCE] * round(silence_s / 0.02)
    write_rtp_pcap(path, [*speech, *beep, *silence])
    return Greeting(path, len(speech), len(beep), len(silence))


def _frames(payload: bytes) -> list[bytes]:
    return [payload[i : i + FRAME] for i in range(0, len(payload) - FRAME + 1, FRAME)]


def _tone(frequency: float, seconds: float) -> bytes:
    samples = array.array(
        "h",
        (
            int(12000 * math.sin(2 * math.pi * frequency * i / 8000))
            for i in range(round(seconds * 8000))
        ),
    )
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def write_rtp_pcap(path: Path, payloads: list[bytes], payload_type: int = PCMA) -> None:
    """One RTP packet per payload, 20 ms apart, as a classic (libpcap) file."""
    records = []
    for index, payload in enumerate(payloads):
        rtp = (
            struct.pack("!BBHII", 0x80, payload_type, index, index * FRAME, GREETING_SSRC) + payload
        )
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = _ipv4(udp)
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        micros = index * 20_000
        header = struct.pack(
            "<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)
        )
        records.append(header + frame)
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    path.write_bytes(head + b"".join(records))


def _ipv4(udp: bytes) -> bytes:
    fields = [0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])]
    header = struct.pack("!BBHHHBBH4s4s", *fields)
    words = struct.unpack("!10H", header)
    total = sum(words)
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    checksum = ~total & 0xFFFF
    return header[:10] + struct.pack("!H", checksum) + header[12:] + udp
