"""The audio of a simulated call, for the recorder: what the customer says
(the recorded lines of :mod:`dialer.voices`, silence between them) and the
agent's side (silence, or what the agent's browser phone sends when the
built-in gateway carries it), as G.711 frames paced in real time, so a
trainee's demo call makes a real recording. Runs on the carrier's loop."""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from dialer.carrier import RecordingSink
from dialer.sip import g711
from dialer.sip.recorder import AGENT, CUSTOMER
from dialer.sip.sdp import PCMU
from dialer.voices import Line, pcm8k

log = logging.getLogger(__name__)

FRAME_S = 0.02
FRAME_BYTES = 160  # one 20 ms G.711 frame at 8 kHz
SILENCE = g711.encode(bytes(2 * FRAME_BYTES), PCMU)


@functools.cache
def spoken(language: str, line: Line) -> bytes:
    """The line as G.711 mu-law, encoded once."""
    return g711.encode(pcm8k(language, line), PCMU)


class CustomerVoice:
    """What the customer is saying, frame by frame (silence when nothing is queued)."""

    def __init__(self) -> None:
        self._frames: collections.deque[bytes] = collections.deque()

    def say(self, language: str, line: Line) -> None:
        """Say the line now (anything still being said is cut off)."""
        payload = spoken(language, line)
        self._frames = collections.deque(
            payload[start : start + FRAME_BYTES].ljust(FRAME_BYTES, SILENCE[:1])
            for start in range(0, len(payload), FRAME_BYTES)
        )

    def next_frame(self) -> bytes:
        return self._frames.popleft() if self._frames else SILENCE


def agent_samples_to_sink(sink: RecordingSink) -> Any:
    """A browser leg's tap: its 16-bit samples into the agent channel."""

    def feed(samples: np.ndarray) -> None:
        pcm = np.asarray(samples, dtype="<i2").ravel().tobytes()
        sink.feed(AGENT, PCMU, g711.encode(pcm, PCMU))

    return feed


async def pump(
    voice: CustomerVoice, sink: RecordingSink, *, agent_speaks: Callable[[], bool]
) -> None:
    """Feed the customer's frames (and the agent's silence while no browser
    phone speaks for them: on hold, or bridged to a simulated phone) every
    20 ms until cancelled."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = 0
    while True:
        sink.feed(CUSTOMER, PCMU, voice.next_frame())
        if not agent_speaks():
            sink.feed(AGENT, PCMU, SILENCE)
        sent += 1
        await asyncio.sleep(max(0.0, started + sent * FRAME_S - loop.time()))
