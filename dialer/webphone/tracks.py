"""The audio a browser leg sends (what the gateway plays, silence otherwise)
and the loop that hears what the browser sends back."""

from __future__ import annotations

import asyncio
import collections
import fractions
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, Packet

from dialer.sip import g711
from dialer.sip.sdp import PCMU
from dialer.webphone.hearing import RATE, Hearing

log = logging.getLogger(__name__)

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
_TIME_BASE = fractions.Fraction(1, RATE)


@functools.cache
def _law(codec: int) -> npt.NDArray[np.uint8]:
    """The G.711 code of every 16-bit sample, indexed by its bit pattern."""
    every_sample = np.arange(65536, dtype="<u2").tobytes()
    return np.frombuffer(g711.encode(every_sample, codec), dtype=np.uint8)


def encode(pcm8k: bytes, codec: int) -> bytes:
    """16-bit little-endian PCM to G.711 in one table lookup (a voice clip is
    tens of thousands of samples: a Python loop over them would stall the loop)."""
    samples = np.frombuffer(pcm8k[: len(pcm8k) - len(pcm8k) % 2], dtype="<u2")
    return _law(codec)[samples].tobytes()


class PlayoutTrack(MediaStreamTrack):
    """8 kHz 16-bit mono PCM queued with :meth:`play`, paced at one 20 ms frame
    per 20 ms of wall clock, silence when nothing is queued.

    It hands aiortc G.711 already encoded (packets, not frames): aiortc then
    neither measures each frame's level in Python nor sends it through a
    thread pool to encode, which is most of a leg's sending cost."""

    kind = "audio"

    def __init__(self, codec: int = PCMU) -> None:
        super().__init__()
        self._queue: collections.deque[bytes] = collections.deque()
        self._codec = codec
        self._silence = encode(bytes(2 * FRAME_SAMPLES), codec)
        self._started: float | None = None
        self._pts = 0

    @property
    def codec(self) -> int:
        return self._codec

    @codec.setter
    def codec(self, codec: int) -> None:
        """The payload type the browser chose (PCMU 0 or PCMA 8)."""
        if codec != self._codec:
            table = g711.transcode_table(self._codec, codec)
            self._queue = collections.deque(frame.translate(table) for frame in self._queue)
            self._codec = codec
            self._silence = encode(bytes(2 * FRAME_SAMPLES), codec)

    def play(self, pcm8k: bytes) -> None:
        encoded = encode(pcm8k, self._codec)
        encoded += self._silence[: -len(encoded) % FRAME_SAMPLES]
        for start in range(0, len(encoded), FRAME_SAMPLES):
            self._queue.append(encoded[start : start + FRAME_SAMPLES])

    def stop_playing(self) -> None:
        self._queue.clear()

    def handover(self) -> PlayoutTrack:
        """A new track (for a new peer connection) that plays what this one had queued."""
        successor = PlayoutTrack(self._codec)
        successor._queue, self._queue = self._queue, collections.deque()
        return successor

    @property
    def playing(self) -> bool:
        return bool(self._queue)

    async def recv(self) -> Packet:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._started is None:
            self._started = now
        else:
            self._pts += FRAME_SAMPLES
            due = self._started + self._pts / RATE
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 0.2:  # the loop stalled: go on from now rather than burst
                self._started = now - self._pts / RATE
        packet = Packet(self._queue.popleft() if self._queue else self._silence)
        packet.pts = self._pts
        packet.time_base = _TIME_BASE
        return packet


async def listen(
    track: MediaStreamTrack,
    hearing: Hearing,
    also: Callable[[npt.NDArray[Any]], None] | None = None,
) -> None:
    """Feed everything the browser sends into ``hearing`` (and ``also``) until its track ends."""
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if isinstance(frame, AudioFrame):
            samples = frame.to_ndarray()
            hearing.feed(samples)
            if also is not None:
                also(samples)
