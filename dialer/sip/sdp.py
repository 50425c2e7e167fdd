"""SDP offer/answer for one audio stream (RFC 4566, RFC 3264, RFC 4733).

Parsing is strict about what we act on: a port outside 1..65535, a missing
or IPv6 connection address, or a transport other than RTP/AVP raise
:class:`SdpError`, so a bad offer is refused (488) and a bad answer ends its
call instead of reaching a socket.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass, field

PCMU = 0
PCMA = 8
TELEPHONE_EVENT = 101
AUDIO_CODECS = (PCMU, PCMA)
_CODEC_NAMES = {PCMU: "PCMU/8000", PCMA: "PCMA/8000"}
_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")


class SdpError(ValueError):
    """An SDP body we cannot use (bad port or address, no audio, no common codec)."""


def check_codecs(codecs: tuple[int, ...]) -> None:
    """Refuse a codec preference we cannot speak (only PCMU=0 and PCMA=8)."""
    if not codecs or any(pt not in AUDIO_CODECS for pt in codecs):
        raise ValueError(f"codecs must be a non-empty tuple of 0 (PCMU) and 8 (PCMA), not {codecs}")


@dataclass(frozen=True)
class MediaLine:
    """One ``m=`` line as offered: media type, transport protocol and formats."""

    media: str
    proto: str
    formats: tuple[str, ...]


@dataclass(frozen=True)
class MediaDescription:
    """The audio stream of a peer's SDP (the first ``m=audio``)."""

    address: str  # as written in c=: an IPv4 literal or a host name
    port: int
    payload_types: tuple[int, ...]
    direction: str = "sendrecv"
    dtmf_payload_type: int | None = None  # the peer's telephone-event/8000, if any
    lines: tuple[MediaLine, ...] = ()  # every m= line, to mirror in an answer
    audio_index: int = 0

    @property
    def is_literal(self) -> bool:
        """True when the address needs no DNS lookup."""
        try:
            ipaddress.IPv4Address(self.address)
        except ValueError:
            return False
        return True

    @property
    def peer_receives(self) -> bool:
        """Whether the peer wants media from us (not on hold, not an RFC 2543 0.0.0.0 hold)."""
        return self.direction in ("sendrecv", "recvonly") and self.address != "0.0.0.0"

    def choose_codec(self, preference: tuple[int, ...]) -> int:
        """Our most preferred codec among the peer's payload types."""
        for pt in preference:
            if pt in self.payload_types:
                return pt
        raise SdpError("no common codec")


def answer_direction(offered: str) -> str:
    """The direction attribute answering ``offered`` (RFC 3264 section 6.1)."""
    return _ANSWER_DIRECTION[offered]


@dataclass
class LocalSession:
    """Our side of the session; the version goes up whenever the SDP we send changes."""

    address: str
    port: int
    codecs: tuple[int, ...] = AUDIO_CODECS
    dtmf: bool = True
    session_id: int = 0
    version: int = 0
    last_body: bytes = field(default=b"", init=False)
    _last_lines: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.session_id:
            self.session_id = int(time.time() * 1000) & 0x7FFFFFFF
            self.version = self.session_id

    def offer(self) -> bytes:
        """Our offer: every codec we allow, telephone-event if DTMF is on, sendrecv."""
        dtmf = TELEPHONE_EVENT if self.dtmf else None
        return self._render(self._audio(self.codecs, dtmf, "sendrecv"))

    def answer(self, offer: MediaDescription, codec: int) -> bytes:
        """Answer ``offer`` with one codec, the mirrored direction, other streams refused."""
        dtmf = offer.dtmf_payload_type if self.dtmf else None
        audio = self._audio((codec,), dtmf, answer_direction(offer.direction))
        media: list[str] = []
        for index, line in enumerate(offer.lines):
            if index == offer.audio_index:
                media += audio
            else:
                media.append(f"m={line.media} 0 {line.proto} {line.formats[0]}")
        return self._render(media)

    def _audio(self, codecs: tuple[int, ...], dtmf: int | None, direction: str) -> list[str]:
        pts = (*codecs, dtmf) if dtmf is not None else codecs
        lines = [f"m=audio {self.port} RTP/AVP {' '.join(str(pt) for pt in pts)}"]
        lines += [f"a=rtpmap:{pt} {_CODEC_NAMES[pt]}" for pt in codecs]
        if dtmf is not None:
            lines += [f"a=rtpmap:{dtmf} telephone-event/8000", f"a=fmtp:{dtmf} 0-16"]
        return [*lines, "a=ptime:20", f"a={direction}"]

    def _render(self, media: list[str]) -> bytes:
        lines = ["s=callcenter", f"c=IN IP4 {self.address}", "t=0 0", *media]
        if self._last_lines and lines != self._last_lines:
            self.version += 1
        self._last_lines = lines
        origin = f"o=callcenter {self.session_id} {self.version} IN IP4 {self.address}"
        self.last_body = ("\r\n".join(["v=0", origin, *lines]) + "\r\n").encode()
        return self.last_body


def parse_sdp(body: bytes) -> MediaDescription:
    """The first audio stream of an SDP body; :class:`SdpError` when it is unusable."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError("SDP is not UTF-8") from exc
    session_addr: str | None = None
    session_direction = "sendrecv"
    lines: list[MediaLine] = []
    audio_index = -1
    audio_port = -1
    audio_addr: str | None = None
    direction: str | None = None
    rtpmaps: dict[int, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        kind, _, value = line.partition("=")
        in_audio = audio_index >= 0 and len(lines) - 1 == audio_index
        if kind == "m":
            media = _media_line(value)
            lines.append(media)
            if audio_index < 0 and media.media == "audio":
                audio_index = len(lines) - 1
                audio_port = _port(value.split()[1])
                if media.proto != "RTP/AVP":
                    raise SdpError(f"unsupported audio transport {media.proto[:20]!r}")
        elif kind == "c":
            if not lines:
                session_addr = _connection_address(value)
            elif in_audio:
                audio_addr = _connection_address(value)
        elif kind == "a" and value in _DIRECTIONS:
            if not lines:
                session_direction = value
            elif in_audio:
                direction = value
        elif kind == "a" and in_audio and value.startswith("rtpmap:"):
            pt, _, encoding = value[len("rtpmap:") :].partition(" ")
            if pt.isdigit():
                rtpmaps[int(pt)] = encoding.strip().lower()
    if audio_index < 0:
        raise SdpError("no audio stream")
    address = audio_addr or session_addr
    if address is None:
        raise SdpError("no connection address for the audio stream")
    audio = lines[audio_index]
    pts = tuple(int(f) for f in audio.formats if f.isdigit())
    dtmf = next(
        (pt for pt, name in rtpmaps.items() if name == "telephone-event/8000" and pt in pts), None
    )
    return MediaDescription(
        address=address,
        port=audio_port,
        payload_types=pts,
        direction=direction or session_direction,
        dtmf_payload_type=dtmf,
        lines=tuple(lines),
        audio_index=audio_index,
    )


def _media_line(value: str) -> MediaLine:
    fields = value.split()
    if len(fields) < 4:
        raise SdpError("malformed m= line")
    return MediaLine(media=fields[0], proto=fields[2], formats=tuple(fields[3:]))


def _port(text: str) -> int:
    port_text = text.split("/", 1)[0]
    if not port_text.isdigit() or len(port_text) > 5:
        raise SdpError("audio port is not a number")
    port = int(port_text)
    if port == 0:
        raise SdpError("audio stream rejected (port 0)")
    if port > 65535:
        raise SdpError(f"audio port {port} out of range")
    return port


def _connection_address(value: str) -> str:
    fields = value.split()
    if len(fields) != 3 or fields[0] != "IN":
        raise SdpError("malformed c= line")
    if fields[1] != "IP4":
        raise SdpError(f"unsupported address type {fields[1][:10]!r} in c= (IPv4 only)")
    address = fields[2].split("/", 1)[0]
    if not _HOSTNAME.match(address):
        raise SdpError("unusable connection address in c=")
    return address
