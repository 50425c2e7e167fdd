"""One browser leg's WebRTC media: an aiortc peer connection that offers
PCMU/PCMA only (no Opus to encode), plays :class:`PlayoutTrack` and hears
the browser's track."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpsender import RTCRtpSender

from dialer.sip.sdp import PCMA, PCMU
from dialer.webphone.hearing import Hearing
from dialer.webphone.tracks import PlayoutTrack, listen

log = logging.getLogger(__name__)

G711 = ("audio/PCMU", "audio/PCMA")
_REFUSED = (ValueError, KeyError, InvalidAccessError, InvalidStateError, OperationError)
_ICE_UFRAG = re.compile(r"^a=ice-ufrag:(\S+)", re.MULTILINE)
_AUDIO_LINE = re.compile(r"^m=audio \S+ \S+ ([\d ]+)", re.MULTILINE)


class MediaError(RuntimeError):
    """SDP the peer connection cannot take."""


def chosen_codec(answer: str) -> int:
    """The G.711 law an answer chose: PCMU when it kept it (our first choice)."""
    match = _AUDIO_LINE.search(answer)
    payloads = match.group(1).split() if match else []
    return PCMA if str(PCMA) in payloads and str(PCMU) not in payloads else PCMU


def ice_ufrags(sdp: str) -> set[str]:
    return set(_ICE_UFRAG.findall(sdp))


class PeerMedia:
    def __init__(self, on_failed: Callable[[str], None]) -> None:
        # No ICE servers: aiortc's default would ask a public STUN server.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.playout = PlayoutTrack()
        self.hearing = Hearing()
        self._settled = asyncio.Event()
        self._failure: str | None = None
        self._on_failed = on_failed
        self._listener: asyncio.Task[None] | None = None
        transceiver = self.pc.addTransceiver(self.playout, direction="sendrecv")
        codecs = RTCRtpSender.getCapabilities("audio").codecs
        transceiver.setCodecPreferences([c for c in codecs if c.mimeType in G711])
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(listen(track, self.hearing))

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self._settled.set()
        elif state == "failed":
            self._failure = "ICE or DTLS failed"
            self._settled.set()
            self._on_failed(f"media failed: {self._failure}")

    async def wait_connected(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self._settled.wait(), timeout_s)
        except TimeoutError:
            raise MediaError(f"ICE/DTLS not connected after {timeout_s:g} s") from None
        if self._failure is not None:
            raise MediaError(self._failure)

    async def offer(self) -> str:
        """The SDP offer, with every ICE candidate in it (no trickle over SIP)."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept_answer(self, sdp: str) -> None:
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        except _REFUSED as exc:
            raise MediaError(f"answer not usable: {exc}") from exc
        self.playout.codec = chosen_codec(sdp)

    async def answer(self, offer: str) -> str:
        """The answer to a renegotiation offer from the browser (hold, new
        direction). An ICE restart is refused: aiortc cannot restart ICE."""
        remote = self.pc.remoteDescription
        if remote is not None and ice_ufrags(offer) != ice_ufrags(remote.sdp):
            raise MediaError("ICE restart is not supported")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except _REFUSED as exc:
            raise MediaError(f"offer not usable: {exc}") from exc
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        self.playout.stop()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.pc.close()
