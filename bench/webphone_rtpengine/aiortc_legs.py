"""The other way to terminate browser legs: the project's own WebRTC
endpoint on aiortc. Opens N pairs of aiortc peer connections on loopback
(ICE, DTLS-SRTP, PCMU both ways, each side sending a 20 ms tone frame and
reading every frame it receives, as a gateway leg must) and prints the
process's CPU per leg, for comparison with rtpengine's
(`python -m bench.webphone_rtpengine`).

    .venv/bin/python -m bench.webphone_rtpengine.aiortc_legs --legs 10,20,40 --seconds 10

Both ends of each pair run in this process, so a leg's cost is the total
divided by 2N (the two ends do the same work).
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import math
import time
from typing import Any

import numpy as np
import psutil
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender
from av import AudioFrame

RATE = 8000
SAMPLES = 160  # 20 ms


class ToneTrack(MediaStreamTrack):
    """A 1 kHz tone, one 20 ms frame at a time, paced like a microphone."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None
        t = np.arange(SAMPLES) / RATE
        self._pcm = (8000 * np.sin(2 * math.pi * 1000 * t)).astype(np.int16)

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._pts / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = AudioFrame.from_ndarray(self._pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += SAMPLES
        return frame


async def consume(track: MediaStreamTrack, counter: list[int]) -> None:
    try:
        while True:
            await track.recv()
            counter[0] += 1
    except Exception:  # the track ends when its connection closes
        return


def prefer_pcmu(pc: RTCPeerConnection) -> None:
    codecs = RTCRtpSender.getCapabilities("audio").codecs
    pcmu = [c for c in codecs if c.mimeType == "audio/PCMU"]
    for transceiver in pc.getTransceivers():
        transceiver.setCodecPreferences(pcmu)


async def open_pair(received: list[int], tasks: list[asyncio.Task[Any]]) -> list[RTCPeerConnection]:
    browser, gateway = RTCPeerConnection(), RTCPeerConnection()
    for pc in (browser, gateway):

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            tasks.append(asyncio.ensure_future(consume(track, received)))

    browser.addTrack(ToneTrack())
    prefer_pcmu(browser)
    await browser.setLocalDescription(await browser.createOffer())
    await gateway.setRemoteDescription(browser.localDescription)
    gateway.addTrack(ToneTrack())
    await gateway.setLocalDescription(await gateway.createAnswer())
    await browser.setRemoteDescription(gateway.localDescription)
    return [browser, gateway]


async def measure(count: int, seconds: float) -> tuple[float, float]:
    received = [0]
    tasks: list[asyncio.Task[Any]] = []
    pcs: list[RTCPeerConnection] = []
    for _ in range(count):
        pcs += await open_pair(received, tasks)
    await asyncio.sleep(3)  # ICE and DTLS done, media flowing
    me = psutil.Process()
    cpu0, t0, frames0 = me.cpu_times(), time.monotonic(), received[0]
    await asyncio.sleep(seconds)
    cpu1, t1, frames1 = me.cpu_times(), time.monotonic(), received[0]
    for pc in pcs:
        await pc.close()
    for task in tasks:
        task.cancel()
    cpu = 100 * ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / (t1 - t0)
    frames_per_s = (frames1 - frames0) / (t1 - t0)
    return cpu, frames_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--legs", default="10,20,40", help="comma-separated pair counts")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"{'pairs':>6} {'legs':>5} {'frames/s':>9} {'of':>7} {'CPU':>7} {'per leg':>8}")
    for count in (int(n) for n in args.legs.split(",")):
        cpu, frames = asyncio.run(measure(count, args.seconds))
        legs = 2 * count
        print(
            f"{count:>6} {legs:>5} {frames:>9.0f} {50 * legs:>7} {cpu:>6.1f}% {cpu / legs:>7.2f}%"
        )
    print("CPU % is of one core; 'of' is the frames/s a leg should receive (50 each).")


if __name__ == "__main__":
    main()
