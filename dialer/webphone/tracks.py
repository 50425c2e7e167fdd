"""The audio a browser leg sends (what the gateway plays, silence otherwise)
and the loop that hears what the browser sends back."""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
import time

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from dialer.webphone.hearing import RATE, Hearing

log = logging.getLogger(__name__)

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
_FRAME_BYTES = 2 * FRAME_SAMPLES
_SILENCE = bytes(_FRAME_BYTES)
_TIME_BASE = fractions.Fraction(1, RATE)


class PlayoutTrack(MediaStreamTrack):
    """8 kHz 16-bit mono PCM queued with :meth:`play`, paced at one 20 ms frame
    per 20 ms of wall clock, silence when nothing is queued."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: collections.deque[bytes] = collections.deque()
        self._started: float | None = None
        self._pts = 0

    def play(self, pcm8k: bytes) -> None:
        usable = len(pcm8k) - len(pcm8k) % 2
        padded = pcm8k[:usable] + bytes(-usable % _FRAME_BYTES)
        for start in range(0, len(padded), _FRAME_BYTES):
            self._queue.append(padded[start : start + _FRAME_BYTES])

    def stop_playing(self) -> None:
        self._queue.clear()

    @property
    def playing(self) -> bool:
        return bool(self._queue)

    async def recv(self) -> AudioFrame:
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
        payload = self._queue.popleft() if self._queue else _SILENCE
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(payload)
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = _TIME_BASE
        return frame


async def listen(track: MediaStreamTrack, hearing: Hearing) -> None:
    """Feed everything the browser sends into ``hearing`` until its track ends."""
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if isinstance(frame, AudioFrame):
            hearing.feed(frame.to_ndarray())
