"""The peer's SDP turned into where and how one RTP leg sends.

A host name in ``c=`` is resolved here, once per SDP and off the event loop
(``loop.getaddrinfo`` runs in the executor); the leg only ever gets the
numeric address, so no packet send can trigger a DNS lookup.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from dialer.sip.sdp import MediaDescription, SdpError, parse_sdp


@dataclass(frozen=True)
class PeerMedia:
    """A usable peer SDP: its stream, the numeric address, the codec we chose."""

    description: MediaDescription
    address: str  # IPv4, numeric
    codec: int
    dtmf_payload_type: int | None  # None when either side does not do RFC 4733

    @property
    def target(self) -> tuple[str, int]:
        return self.address, self.description.port

    @property
    def we_send(self) -> bool:
        return self.description.peer_receives


async def peer_media(body: bytes, codecs: tuple[int, ...], dtmf: bool) -> PeerMedia:
    """Parse, pick a codec and resolve the address; :class:`SdpError` when unusable."""
    description = parse_sdp(body)
    codec = description.choose_codec(codecs)
    address = await _numeric_address(description)
    return PeerMedia(
        description=description,
        address=address,
        codec=codec,
        dtmf_payload_type=description.dtmf_payload_type if dtmf else None,
    )


async def _numeric_address(description: MediaDescription) -> str:
    if description.is_literal:
        return description.address
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            description.address, description.port, family=socket.AF_INET, type=socket.SOCK_DGRAM
        )
    except (OSError, UnicodeError) as exc:
        raise SdpError(f"cannot resolve media host {description.address!r}: {exc}") from exc
    if not infos:
        raise SdpError(f"media host {description.address!r} has no IPv4 address")
    return str(infos[0][4][0])
