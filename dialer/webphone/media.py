"""One browser leg's WebRTC media: an aiortc peer connection that offers
PCMU/PCMA only (no Opus to encode), plays :class:`PlayoutTrack` and hears
the browser's track."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

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
    """The leg's media; on an ICE restart from the browser (which aiortc
    cannot do in place) a fresh peer connection takes over, with the audio
    still queued and what was heard so far."""

    def __init__(self, on_failed: Callable[[str], None]) -> None:
        self.playout = PlayoutTrack()
        self.hearing = Hearing()
        self.tap: Callable[[Any], None] | None = None
        """Also given every frame's samples the browser sends (the call recorder)."""
        self._settled = asyncio.Event()
        self._failure: str | None = None
        self._on_failed = on_failed
        self._listener: asyncio.Task[None] | None = None
        self.pc = self._peer_connection()
        self._g711(self.pc.addTransceiver(self.playout, direction="sendrecv"))

    def _peer_connection(self) -> RTCPeerConnection:
        # No ICE servers: aiortc's default would ask a public STUN server.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":  # the newest connection's track is the one heard
                if self._listener is not None:
                    self._listener.cancel()
                loop = asyncio.get_running_loop()
                self._listener = loop.create_task(listen(track, self.hearing, self._tapped))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc is not self.pc:
                return
            if pc.connectionState == "connected":
                self._settled.set()
            elif pc.connectionState == "failed":
                self._failure = "ICE or DTLS failed"
                self._settled.set()
                self._on_failed(f"media failed: {self._failure}")

        return pc

    def _tapped(self, samples: Any) -> None:
        if self.tap is not None:
            self.tap(samples)

    @staticmethod
    def _g711(transceiver: RTCRtpTransceiver) -> None:
        codecs = RTCRtpSender.getCapabilities("audio").codecs
        transceiver.setCodecPreferences([c for c in codecs if c.mimeType in G711])

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
        """The answer to a renegotiation offer from the browser: in place (hold,
        a new direction), or on a fresh peer connection for an ICE restart."""
        remote = self.pc.remoteDescription
        if remote is not None and ice_ufrags(offer) != ice_ufrags(remote.sdp):
            return await self._restart(offer)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except _REFUSED as exc:
            raise MediaError(f"offer not usable: {exc}") from exc
        self.playout.codec = chosen_codec(self.pc.localDescription.sdp)
        return self.pc.localDescription.sdp

    async def _restart(self, offer: str) -> str:
        old_pc, old_playout = self.pc, self.playout
        pc = self._peer_connection()
        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            transceivers = [t for t in pc.getTransceivers() if t.kind == "audio"]
            if not transceivers:
                raise MediaError("offer without audio")
            self._g711(transceivers[0])
            playout = old_playout.handover()
            transceivers[0].direction = "sendrecv"
            transceivers[0].sender.replaceTrack(playout)
            await pc.setLocalDescription(await pc.createAnswer())
        except _REFUSED as exc:
            await pc.close()
            raise MediaError(f"ICE restart offer not usable: {exc}") from exc
        except MediaError:
            await pc.close()
            raise
        self.pc, self.playout = pc, playout
        playout.codec = chosen_codec(pc.localDescription.sdp)
        old_playout.stop()
        await old_pc.close()
        return pc.localDescription.sdp

    async def close(self) -> None:
        self.playout.stop()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.pc.close()
