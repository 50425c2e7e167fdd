"""SDP offer/answer for one audio stream (RFC 4566, RFC 3264, RFC 4733)."""

from __future__ import annotations

import time
from dataclasses import dataclass

PCMU = 0
PCMA = 8
TELEPHONE_EVENT = 101
_CODEC_NAMES = {PCMU: "PCMU/8000", PCMA: "PCMA/8000", TELEPHONE_EVENT: "telephone-event/8000"}


class SdpError(ValueError):
    """An SDP body we cannot use (no audio, no common codec)."""


@dataclass(frozen=True)
class MediaDescription:
    address: str
    port: int
    payload_types: tuple[int, ...]
    direction: str = "sendrecv"

    @property
    def codec(self) -> int:
        """The first payload type we can speak (PCMU or PCMA)."""
        for pt in self.payload_types:
            if pt in (PCMU, PCMA):
                return pt
        raise SdpError("no common codec (need PCMU or PCMA)")


@dataclass
class LocalSession:
    """Our side of the session; the version goes up when the SDP changes."""

    address: str
    port: int
    session_id: int = 0
    version: int = 0
    codecs: tuple[int, ...] = (PCMU, PCMA)

    def __post_init__(self) -> None:
        if not self.session_id:
            self.session_id = int(time.time() * 1000) & 0x7FFFFFFF
            self.version = self.session_id

    def body(
        self, payload_types: tuple[int, ...] | None = None, direction: str = "sendrecv"
    ) -> bytes:
        pts = (*(payload_types or self.codecs), TELEPHONE_EVENT)
        lines = [
            "v=0",
            f"o=callcenter {self.session_id} {self.version} IN IP4 {self.address}",
            "s=callcenter",
            f"c=IN IP4 {self.address}",
            "t=0 0",
            f"m=audio {self.port} RTP/AVP {' '.join(str(p) for p in pts)}",
        ]
        lines += [f"a=rtpmap:{pt} {_CODEC_NAMES[pt]}" for pt in pts]
        lines += [f"a=fmtp:{TELEPHONE_EVENT} 0-16", "a=ptime:20", f"a={direction}"]
        return ("\r\n".join(lines) + "\r\n").encode()


def parse_sdp(body: bytes) -> MediaDescription:
    """The first audio stream of an SDP body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError("SDP is not UTF-8") from exc
    session_addr = ""
    media_addr = ""
    port = -1
    pts: tuple[int, ...] = ()
    direction = "sendrecv"
    in_audio = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            if in_audio:
                break
            fields = line[2:].split()
            in_audio = fields[0] == "audio"
            if in_audio:
                port = int(fields[1])
                pts = tuple(int(f) for f in fields[3:] if f.isdigit())
        elif line.startswith("c="):
            addr = line.split()[-1].split("/")[0]
            if in_audio:
                media_addr = addr
            elif port < 0:
                session_addr = addr
        elif in_audio and line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive"):
            direction = line[2:]
    if port < 0:
        raise SdpError("no audio stream")
    address = media_addr or session_addr
    if not address:
        raise SdpError("no connection address")
    return MediaDescription(address=address, port=port, payload_types=pts, direction=direction)
