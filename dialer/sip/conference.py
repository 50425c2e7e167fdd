"""Legs of one call heard through a :class:`~dialer.sip.mixer.Mixer`: the RTP glue.

API::

    clock = MixClock()                       # one per dialer: ticks every conference
    conference = Conference("call-1", clock)
    conference.join("customer", customer_rtp)
    conference.join("agent", agent_rtp)
    conference.join("supervisor", supervisor_rtp)
    conference.set_matrix(monitor_matrix("customer", "agent", {"supervisor": "whisper"}))
    conference.leave("supervisor")           # the others go on as they were
    conference.close()                       # the legs are left with no relay at all

Where a listener hears exactly one source, and that source relays to nobody
else, the packets go straight across as in a plain bridge
(:func:`dialer.sip.rtp.connect`): no clock, no buffer, no added delay. So in
"listen" and "whisper" the customer hears the agent exactly as before; only
legs that hear two or more get the mixer's 20 ms frames. Changing the
matrix only moves which legs are relayed and which are mixed; each leg's
outgoing stream keeps its SSRC, sequence and timestamp across the change.

:func:`monitor_matrix` is who hears whom for listen, whisper and barge.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from dialer.sip.mixer import Mixer
from dialer.sip.rtp import FRAME_SECONDS, RtpEndpoint

log = logging.getLogger(__name__)


class MonitorMode(StrEnum):
    LISTEN = "listen"  # the supervisor hears both; nobody hears the supervisor
    WHISPER = "whisper"  # and the agent hears the supervisor
    BARGE = "barge"  # everybody hears everybody


def monitor_matrix(
    customer: str, agent: str, monitors: Mapping[str, MonitorMode | str]
) -> dict[str, set[str]]:
    """Who hears whom on a bridged call with these supervisors (name -> mode)."""
    matrix: dict[str, set[str]] = {customer: {agent}, agent: {customer}}
    for name, mode in monitors.items():
        matrix[name] = {customer, agent}
        if mode in (MonitorMode.WHISPER, MonitorMode.BARGE):
            matrix[agent].add(name)
        if mode == MonitorMode.BARGE:
            matrix[customer].add(name)
    barging = [name for name, mode in monitors.items() if mode == MonitorMode.BARGE]
    for name in monitors:
        matrix[name].update(other for other in barging if other != name)
    return matrix


@dataclass
class ClockStats:
    ticks: int = 0
    late: int = 0  # ticks that ran a whole frame or more after they were due
    max_lateness_s: float = 0.0
    busy_s: float = 0.0  # CPU time spent mixing and sending (thread time)


class MixClock:
    """One 20 ms clock for all the conferences of a dialer (one task, not one per call).

    A tick that runs a frame or more late is counted, and the clock skips
    ahead rather than bursting the frames it missed.
    """

    def __init__(self) -> None:
        self._conferences: set[Conference] = set()
        self._task: asyncio.Task[None] | None = None
        self.stats = ClockStats()

    def add(self, conference: Conference) -> None:
        self._conferences.add(conference)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def remove(self, conference: Conference) -> None:
        self._conferences.discard(conference)
        if not self._conferences and self._task is not None:
            self._task.cancel()
            self._task = None

    def remove_all(self) -> None:
        """Stop the clock; the conferences stay (a caller ticks them itself)."""
        self._conferences.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + FRAME_SECONDS
        while True:
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lateness = loop.time() - due
            self.stats.ticks += 1
            self.stats.max_lateness_s = max(self.stats.max_lateness_s, lateness)
            if lateness >= FRAME_SECONDS:
                self.stats.late += 1
                due += FRAME_SECONDS * int(lateness / FRAME_SECONDS)
            began = time.thread_time()
            for conference in list(self._conferences):
                try:
                    conference.tick()
                except Exception:
                    log.exception("mixing %s failed", conference.label)
            self.stats.busy_s += time.thread_time() - began
            due += FRAME_SECONDS


class Conference:
    """See the module docstring. Use it from the event loop that runs the legs."""

    def __init__(self, label: str, clock: MixClock) -> None:
        self.label = label
        self.mixer = Mixer()
        self._clock = clock
        self._legs: dict[str, RtpEndpoint] = {}
        self._matrix: dict[str, set[str]] = {}
        self._mixed: set[str] = set()  # listeners fed by the mixer, not by a relay

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._legs)

    def join(self, name: str, endpoint: RtpEndpoint) -> None:
        """Add a leg hearing nobody and heard by nobody (then :meth:`set_matrix`)."""
        self.mixer.add(name, endpoint.codec)
        self._legs[name] = endpoint

        def mix_in(payload_type: int, payload: bytes) -> None:
            self.mixer.push(name, payload_type, payload)

        endpoint.mix_in = mix_in

    def leave(self, name: str) -> None:
        """Take a leg out; the others keep what they heard from everybody else."""
        endpoint = self._legs.pop(name, None)
        if endpoint is None:
            return
        matrix = {
            listener: {source for source in sources if source != name}
            for listener, sources in self._matrix.items()
            if listener != name
        }
        endpoint.mix_in = None
        endpoint.peer = None
        self.mixer.remove(name)
        self.set_matrix(matrix)

    def set_matrix(self, matrix: Mapping[str, Iterable[str]]) -> None:
        """Who hears whom from now on (listener -> sources)."""
        wanted = {listener: set(sources) for listener, sources in matrix.items()}
        self.mixer.set_matrix(wanted)  # checks the names before anything moves
        relays: dict[str, str] = {}  # source -> the one listener it is relayed to
        mixed: set[str] = set()
        for listener, sources in sorted(wanted.items()):
            if len(sources) == 1 and next(iter(sources)) not in relays:
                relays[next(iter(sources))] = listener
            elif sources:
                mixed.add(listener)
        self.mixer.set_matrix({listener: wanted[listener] for listener in mixed})
        for name, endpoint in self._legs.items():
            endpoint.peer = self._legs[relays[name]] if name in relays else None
        self._matrix, self._mixed = wanted, mixed
        if mixed:
            self._clock.add(self)
        else:
            self._clock.remove(self)

    def tick(self) -> None:
        """One 20 ms frame out of every mixed leg."""
        for name in self._mixed:
            endpoint = self._legs[name]
            if endpoint.codec != self.mixer.codec(name):
                self.mixer.set_codec(name, endpoint.codec)
        frames = self.mixer.mix()
        for name in self._mixed:
            frame = frames.get(name)
            if frame is not None:
                self._legs[name].send_frame(frame)

    def close(self) -> None:
        """Stop mixing and relaying; the legs stay up, with no media hooks of ours."""
        self._clock.remove(self)
        for endpoint in self._legs.values():
            endpoint.mix_in = None
            endpoint.peer = None
        self._legs.clear()
        self._mixed.clear()
