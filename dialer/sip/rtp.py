"""RTP media for one call leg: receive, play a prompt, relay into a bridge.

One :class:`RtpEndpoint` (one UDP socket on the shared event loop) per leg.
Received packets are never stored: they are counted, handed to an optional
listener (answering-machine detection) and an optional tap (the call
recorder, which only queues them for its own thread), and, when the leg is
bridged, rewritten and sent out of the other leg at once.

Bridging rewrites SSRC, sequence number and timestamp so the far phone sees
one continuous stream per leg whoever is on the other side (a new customer
on a nailed-up agent leg is a new source, not a new stream), and transcodes
PCMA <-> PCMU with a 256-byte table when the legs chose different codecs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from dialer.sip import g711
from dialer.sip.media import PeerMedia
from dialer.sip.sdp import AUDIO_CODECS, PCMU

log = logging.getLogger(__name__)

FRAME_BYTES = 160  # 20 ms of G.711 at 8 kHz
FRAME_SECONDS = 0.02
ERROR_LOG_INTERVAL_S = 30.0
_HEADER = struct.Struct("!BBHII")


class RtpError(ValueError):
    """A datagram that is not RTP version 2."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < 12:
            raise RtpError("short RTP packet")
        first, second, seq, ts, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != 2:
            raise RtpError("not RTP version 2")
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:
            if len(data) < offset + 4:
                raise RtpError("short RTP extension")
            offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
        end = len(data)
        if first & 0x20 and end > offset:
            end -= data[-1]
        if offset > end:
            raise RtpError("RTP header longer than the packet")
        return cls(second & 0x7F, seq, ts, ssrc, data[offset:end], bool(second & 0x80))

    def to_bytes(self) -> bytes:
        second = (0x80 if self.marker else 0) | self.payload_type
        return _HEADER.pack(0x80, second, self.sequence, self.timestamp, self.ssrc) + self.payload


@dataclass
class RtpStats:
    received: int = 0
    sent: int = 0
    relayed_in: int = 0
    malformed: int = 0
    send_errors: int = 0


class _OutStream:
    """Our outgoing stream on one leg: fixed SSRC, continuous seq and timestamp."""

    def __init__(self) -> None:
        self.ssrc = secrets.randbits(32)
        self.sequence = secrets.randbits(16)
        self.timestamp = secrets.randbits(32)
        self._source: int | None = None
        self._source_ts = 0
        self._anchor_ts = 0
        self._started = False

    def next_own(self, payload_type: int, payload: bytes) -> RtpPacket:
        marker = not self._started
        self._advance(FRAME_BYTES if self._started else 0)
        self._source = None
        return RtpPacket(payload_type, self.sequence, self.timestamp, self.ssrc, payload, marker)

    def rewrite(self, packet: RtpPacket, payload_type: int, payload: bytes) -> RtpPacket:
        marker = packet.marker
        if packet.ssrc != self._source:
            self._source = packet.ssrc
            self._source_ts = packet.timestamp
            self._advance(FRAME_BYTES if self._started else 0)
            self._anchor_ts = self.timestamp
            marker = True
        else:
            self.sequence = (self.sequence + 1) & 0xFFFF
            self.timestamp = (self._anchor_ts + packet.timestamp - self._source_ts) & 0xFFFFFFFF
        return RtpPacket(payload_type, self.sequence, self.timestamp, self.ssrc, payload, marker)

    def _advance(self, samples: int) -> None:
        if self._started:
            self.sequence = (self.sequence + 1) & 0xFFFF
        self._started = True
        self.timestamp = (self.timestamp + samples) & 0xFFFFFFFF


class RtpEndpoint(asyncio.DatagramProtocol):
    """The media socket of one leg.

    Nothing is sent until :meth:`apply` has given it the peer's numeric
    address, and nothing while the peer holds the call (sendonly/inactive).
    A failed send is counted and logged (at most every 30 s per leg); the
    socket stays open.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self.sending = True
        self.codec = PCMU
        self.dtmf_payload_type: int | None = None
        self.stats = RtpStats()
        self.listener: Callable[[RtpPacket], None] | None = None
        self.tap: Callable[[int, bytes], None] | None = None
        """Gets (payload type, payload) of each received packet: the recorder."""
        self.sent_tap: Callable[[int, bytes], None] | None = None
        """Gets (payload type, payload) of the audio relayed or mixed out of this
        leg (not prompts or hold music): the recorder's other channel."""
        self.mix_in: Callable[[int, bytes], None] | None = None
        """Gets (payload type, payload) of each received packet: a conference's mixer."""
        self.peer: RtpEndpoint | None = None
        self._out = _OutStream()
        self._playing = False
        self._closed_by_us = False
        self._error_logged_at = -ERROR_LOG_INTERVAL_S

    @classmethod
    async def on_socket(cls, sock: socket.socket, label: str) -> RtpEndpoint:
        """Wrap a bound UDP socket (see :mod:`dialer.sip.rtp_ports`)."""
        loop = asyncio.get_running_loop()
        endpoint = cls(label)
        await loop.create_datagram_endpoint(lambda: endpoint, sock=sock)
        return endpoint

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def apply(self, media: PeerMedia) -> None:
        """Send to the peer as its (validated, resolved) SDP says from now on."""
        self.remote = media.target
        self.codec = media.codec
        self.dtmf_payload_type = media.dtmf_payload_type
        self.sending = media.we_send

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed_by_us:
            log.error(
                "RTP socket of leg %s closed unexpectedly: %s",
                self.label,
                exc,
                extra={"call_id": self.label},
            )

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            self.stats.malformed += 1
            return
        self.stats.received += 1
        if self.listener is not None:
            self.listener(packet)
        if self.tap is not None:
            self.tap(packet.payload_type, packet.payload)
        if self.mix_in is not None:
            self.mix_in(packet.payload_type, packet.payload)
        peer = self.peer
        if peer is not None and not peer._playing:
            peer.relay(packet, self.dtmf_payload_type)

    def error_received(self, exc: Exception) -> None:
        self.stats.send_errors += 1
        now = time.monotonic()
        if now - self._error_logged_at >= ERROR_LOG_INTERVAL_S:
            self._error_logged_at = now
            log.warning(
                "RTP on leg %s: send failed (%d errors so far): %s",
                self.label,
                self.stats.send_errors,
                exc,
                extra={"call_id": self.label},
            )

    def relay(self, packet: RtpPacket, source_dtmf: int | None) -> None:
        """Send a packet that arrived on the bridged leg out of this leg."""
        pt = packet.payload_type
        if pt in AUDIO_CODECS:
            payload = packet.payload
            if pt != self.codec:
                payload = payload.translate(g711.transcode_table(pt, self.codec))
            out = self._out.rewrite(packet, self.codec, payload)
            if self.sent_tap is not None:
                self.sent_tap(self.codec, payload)
        elif pt == source_dtmf and self.dtmf_payload_type is not None:
            out = self._out.rewrite(packet, self.dtmf_payload_type, packet.payload)
        else:
            return  # comfort noise, DTMF this leg cannot take, formats we never agreed
        self.stats.relayed_in += 1
        self._send(out)

    def send_frame(self, payload: bytes) -> None:
        """Send one 20 ms frame of our own (a conference's mix, in this leg's
        codec); skipped while a prompt plays on the leg."""
        if not self._playing:
            if self.sent_tap is not None:
                self.sent_tap(self.codec, payload)
            self._send(self._out.next_own(self.codec, payload))

    def _send(self, packet: RtpPacket) -> None:
        if not self.sending or self.remote is None:
            return
        if self.transport is None or self.transport.is_closing():
            return
        errors = self.stats.send_errors
        self.transport.sendto(packet.to_bytes(), self.remote)
        if self.stats.send_errors == errors:
            self.stats.sent += 1

    async def play(self, payload: bytes) -> None:
        """Send G.711 ``payload`` (already in this leg's codec) paced at 20 ms."""
        loop = asyncio.get_running_loop()
        self._playing = True
        try:
            start = loop.time()
            silence = b"\xff" if self.codec == PCMU else b"\xd5"
            for index, offset in enumerate(range(0, len(payload), FRAME_BYTES)):
                frame = payload[offset : offset + FRAME_BYTES].ljust(FRAME_BYTES, silence)
                self._send(self._out.next_own(self.codec, frame))
                delay = start + (index + 1) * FRAME_SECONDS - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
        finally:
            self._playing = False

    def close(self) -> None:
        self.peer = None
        self.listener = None
        self.tap = None
        self.sent_tap = None
        self.mix_in = None
        self._closed_by_us = True
        if self.transport is not None:
            self.transport.close()


def connect(a: RtpEndpoint, b: RtpEndpoint) -> None:
    """Relay media both ways between two legs."""
    a.peer = b
    b.peer = a


def disconnect(a: RtpEndpoint, b: RtpEndpoint) -> None:
    if a.peer is b:
        a.peer = None
    if b.peer is a:
        b.peer = None
