"""A simulated carrier: the embedded default when there is no PBX.

It plugs in *below* the carrier port instead of speaking SIP over loopback:
what the rest of the product needs from it is the sequence and timing of
call progress events (pacing, screens, reports), and an in-process model
gives exactly that with no sockets, no ports to collide on a laptop, no
second process, and seeded, repeatable runs (the pacing simulator in
``bench/`` can reuse it). The SIP path itself is tested against sipp, not
through this class.

Each call draws its fate from :class:`SimulationProfile` odds with a
``random.Random(seed)``: answered (live person), machine, busy, no answer
(rings until ``ring_timeout_s``, like a CANCEL/487), or failed (503). Answer
and talk times are log-normal; an answered customer hangs up after the talk
time unless the dialer hangs up first. The SIP status/reason attached to each
outcome is what a real trunk would have sent.

Answering machines behave as on the SIP trunk: with the call's AMD off a
machine's answer is reported as a live answer (and ends ``answered``); with
AMD on, every answer waits for a (perfect) verdict drawn from
``amd_decision``, and a machine is hung up or left the message after its
greeting, ending ``machine``.

Agent phones (and supervisors' phones, to listen in) are simulated too
(answered at once, no media), except browser phones when a gateway is given
(``browser_phones``): those get a real call with WebRTC audio, and a
customer bridged to one speaks: a short recorded line when bridged
("Hello? ... Yes, who is calling?", or a voicemail greeting and its beep)
and a goodbye before hanging up. When such a bridge ends, one
INFO line says what the customer heard from the agent.

A bridged call can be recorded (:mod:`dialer.simulated_audio`): the customer's
lines on the left, the browser phone's audio (silence for a simulated phone)
on the right, from the bridge to its end.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
import wave
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dialer.carrier import (
    AgentLegRequest,
    AmdAction,
    AmdMode,
    AmdResult,
    AmdVerdict,
    CallProgress,
    CarrierError,
    InboundHandler,
    OriginateRequest,
    Outcome,
    Phase,
    ProgressCallback,
    RecordingSink,
    TrunkHealth,
    TrunkStatus,
    utc_now,
)
from dialer.simulated_audio import CustomerVoice, agent_samples_to_sink, pump
from dialer.sip.outcomes import outcome_for_status
from dialer.voices import Line, language_of, pcm8k

if TYPE_CHECKING:
    from dialer.webphone import BrowserLeg, BrowserPhoneGateway, LegEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Distribution:
    """Log-normal by median and spread (sigma of the log), clipped to [low, high] s."""

    median_s: float
    sigma: float = 0.5
    low_s: float = 0.0
    high_s: float = math.inf

    def draw(self, rng: random.Random) -> float:
        value = self.median_s * math.exp(rng.gauss(0.0, self.sigma)) if self.median_s else 0.0
        return min(max(value, self.low_s), self.high_s)


@dataclass(frozen=True)
class SimulationProfile:
    answer: float = 0.35
    machine: float = 0.10
    busy: float = 0.15
    no_answer: float = 0.30
    failed: float = 0.10
    ring_time: Distribution = field(default_factory=lambda: Distribution(6.0, 0.5, 1.0, 40.0))
    talk_time: Distribution = field(default_factory=lambda: Distribution(90.0, 0.6, 10.0, 900.0))
    machine_message: Distribution = field(default_factory=lambda: Distribution(20.0, 0.3, 5.0))
    machine_greeting: Distribution = field(
        default_factory=lambda: Distribution(6.0, 0.3, 2.0, 15.0)
    )
    amd_decision: Distribution = field(default_factory=lambda: Distribution(2.0, 0.3, 0.5, 5.0))
    voicemail_s: float = 12.0  # the message left on a machine
    setup_delay_s: float = 0.2  # INVITE to first ringing
    time_scale: float = 1.0  # < 1 runs the world faster (tests, demos)

    @classmethod
    def every_call(
        cls,
        fate: str,
        *,
        ring_s: float = 0.2,
        talk_s: float = 1.0,
        setup_delay_s: float = 0.05,
    ) -> SimulationProfile:
        """A world where every call has `fate` (answer, machine, busy,
        no_answer or failed) after fixed times: for tests and benches."""
        fates = ("answer", "machine", "busy", "no_answer", "failed")
        if fate not in fates:
            raise ValueError(f"unknown fate {fate!r}")
        return cls(
            answer=float(fate == "answer"),
            machine=float(fate == "machine"),
            busy=float(fate == "busy"),
            no_answer=float(fate == "no_answer"),
            failed=float(fate == "failed"),
            ring_time=Distribution(ring_s, 0.0),
            talk_time=Distribution(talk_s, 0.0),
            setup_delay_s=setup_delay_s,
        )

    def fates(self) -> list[tuple[str, float]]:
        return [
            ("answer", self.answer),
            ("machine", self.machine),
            ("busy", self.busy),
            ("no_answer", self.no_answer),
            ("failed", self.failed),
        ]


_FINALS: dict[str, tuple[Outcome, int, str]] = {
    "busy": (Outcome.BUSY, 486, "Busy Here"),
    "no_answer": (Outcome.NO_ANSWER, 487, "Request Terminated"),
    "failed": (Outcome.FAILED, 503, "Service Unavailable"),
}


@dataclass(frozen=True)
class _Times:
    """One call's drawn durations, in simulated seconds."""

    ring: float
    talk: float
    message: float  # how long a machine holds the line with nobody acting on it
    greeting: float  # a machine's greeting, up to its beep
    decision: float  # answer to AMD verdict


@dataclass
class _SimCall:
    call_id: str
    on_progress: ProgressCallback
    fate: str
    amd: AmdMode = AmdMode.OFF
    phase: Phase = "dialing"
    task: asyncio.Task[None] | None = None
    bridged_to: str | None = None
    hangup: asyncio.Event = field(default_factory=asyncio.Event)
    browser: BrowserLeg | None = None  # an agent leg to a browser phone
    language: str = "en"  # what a customer speaks
    voice: CustomerVoice = field(default_factory=CustomerVoice)
    recording: RecordingSink | None = None
    recording_pump: asyncio.Task[None] | None = None
    agent_speaks: bool = False  # a customer call bridged to a browser phone (its own audio)
    monitors: dict[str, str] = field(default_factory=dict)  # supervisor leg id -> mode


class SimulatedCarrier:
    """:class:`dialer.carrier.Carrier` with simulated customers and agent phones."""

    def __init__(
        self,
        profile: SimulationProfile | None = None,
        seed: int | None = None,
        *,
        browser_phones: BrowserPhoneGateway | None = None,
        language: str = "fa",
    ) -> None:
        self.profile = profile or SimulationProfile()
        self.browser_phones = browser_phones
        self.language = language
        self._rng = random.Random(seed)
        self._calls: dict[str, _SimCall] = {}
        self._agents: dict[str, _SimCall] = {}
        self._healthy = TrunkHealth(True, "simulated", utc_now())
        self._started = False

    async def start(self) -> None:
        if self.browser_phones is not None:
            try:
                await self.browser_phones.start()
            except OSError as exc:  # e.g. the port is taken: the rest still runs
                log.error("browser phone gateway not started, no browser phone can answer: %s", exc)
        self._started = True

    async def stop(self) -> None:
        for call in [*self._calls.values(), *self._agents.values()]:
            call.hangup.set()
        tasks = [c.task for c in [*self._calls.values(), *self._agents.values()] if c.task]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.browser_phones is not None:
            await self.browser_phones.stop()  # hangs up the browser legs; each reports ended
        self._started = False

    def health(self) -> TrunkHealth:
        return self._healthy

    def status(self) -> TrunkStatus:
        return TrunkStatus(
            healthy=True,
            reason="simulated carrier",
            calls_in_flight=len(self._calls),
            agent_legs=len(self._agents),
            address="simulated",
        )

    def _pick_fate(self) -> str:
        fates = self.profile.fates()
        total = sum(w for _, w in fates)
        point = self._rng.random() * total
        for name, weight in fates:
            point -= weight
            if point < 0:
                return name
        return fates[-1][0]

    async def originate(self, request: OriginateRequest, on_progress: ProgressCallback) -> None:
        if not self._started:
            raise CarrierError("carrier not started")
        if request.call_id in self._calls:
            raise CarrierError(f"call {request.call_id} already exists")
        call = _SimCall(request.call_id, on_progress, self._pick_fate(), AmdMode(request.amd))
        call.language = language_of(request.locale, self.language)
        self._calls[request.call_id] = call
        self._emit(call, "dialing")
        profile = self.profile
        times = _Times(
            ring=profile.ring_time.draw(self._rng),
            talk=profile.talk_time.draw(self._rng),
            message=profile.machine_message.draw(self._rng),
            greeting=profile.machine_greeting.draw(self._rng),
            decision=profile.amd_decision.draw(self._rng),
        )
        call.task = asyncio.get_running_loop().create_task(
            self._run(call, request.ring_timeout_s, times)
        )

    async def _run(self, call: _SimCall, ring_timeout: float, times: _Times) -> None:
        scale = self.profile.time_scale
        ring, talk, message = times.ring, times.talk, times.message
        try:
            if await self._wait(call, self.profile.setup_delay_s * scale):
                return self._end(call, Outcome.NO_ANSWER, 487, "Request Terminated")
            if call.fate == "failed":
                return self._end(call, *_FINALS["failed"])
            if call.fate == "busy":
                return self._end(call, *_FINALS["busy"])
            call.phase = "ringing"
            self._emit(call, "ringing", sip_status=180, sip_reason="Ringing")
            answers = call.fate in ("answer", "machine") and ring < ring_timeout
            if await self._wait(call, (ring if answers else ring_timeout) * scale):
                return self._end(call, Outcome.NO_ANSWER, 487, "Request Terminated")
            if not answers:
                return self._end(call, *_FINALS["no_answer"])
            call.phase = "answered"
            verdict = None
            if call.amd is not AmdMode.OFF:
                verdict = await self._detect(call, times)
                if verdict is None or verdict.result is AmdResult.MACHINE:
                    return
            self._emit(call, "answered", sip_status=200, sip_reason="OK", amd=verdict)
            hold = message if call.fate == "machine" else talk
            by_us = await self._hold(call, hold * scale)
            self._end(call, Outcome.ANSWERED, 200, "local hangup" if by_us else "remote hangup")
        except asyncio.CancelledError:
            self._end(call, Outcome.FAILED, None, "carrier stopped")
            raise

    async def _detect(self, call: _SimCall, times: _Times) -> AmdVerdict | None:
        """The verdict after the answer; a machine is dealt with here and ended.
        None when the dialer hung up before the verdict."""
        scale = self.profile.time_scale
        answered_at = utc_now()
        if await self._wait(call, times.decision * scale):
            self._end(call, Outcome.ANSWERED, 200, "local hangup")
            return None
        decision_ms = round(1000 * times.decision)
        if call.fate != "machine":
            return AmdVerdict(AmdResult.HUMAN, decision_ms, answered_at, AmdAction.PASSED_TO_AGENT)
        action = AmdAction.HUNG_UP
        if call.amd is AmdMode.MESSAGE:
            greeting_left = max(0.0, times.greeting - times.decision)
            if not await self._wait(call, (greeting_left + self.profile.voicemail_s) * scale):
                action = AmdAction.MESSAGE_PLAYED
        verdict = AmdVerdict(AmdResult.MACHINE, decision_ms, answered_at, action)
        self._end(call, Outcome.MACHINE, 200, "answering machine", amd=verdict)
        return verdict

    async def _hold(self, call: _SimCall, seconds: float) -> bool:
        """Stay on the line; a person says goodbye into a browser phone before
        hanging up. True if the dialer hung up meanwhile."""
        if call.fate != "answer":
            return await self._wait(call, seconds)
        goodbye = pcm8k(call.language, Line.GOODBYE)
        lead = min(seconds, len(goodbye) / 16000 + 0.5)
        if await self._wait(call, seconds - lead):
            return True
        agent = self._agents.get(call.bridged_to or "")
        if agent is not None:
            call.voice.say(call.language, Line.GOODBYE)
        if agent is not None and agent.browser is not None:
            agent.browser.stop_playing()
            agent.browser.play(goodbye)
        return await self._wait(call, lead)

    @staticmethod
    async def _wait(call: _SimCall, seconds: float) -> bool:
        """Sleep; True if the dialer hung up meanwhile."""
        try:
            await asyncio.wait_for(call.hangup.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _end(
        self,
        call: _SimCall,
        outcome: Outcome,
        status: int | None,
        reason: str,
        amd: AmdVerdict | None = None,
    ) -> None:
        if call.phase == "ended":
            return
        bridged = call.bridged_to
        if bridged is not None:
            agent = self._agents.get(bridged)
            if agent is not None:
                self._bridge_over(call, agent)
                agent.bridged_to = None
        self._stop_recording(call)
        call.phase = "ended"
        self._calls.pop(call.call_id, None)
        self._emit(call, "ended", outcome, status, reason, bridged, amd)

    @staticmethod
    def _emit(
        call: _SimCall,
        phase: Phase,
        outcome: Outcome | None = None,
        sip_status: int | None = None,
        sip_reason: str | None = None,
        bridged_to: str | None = None,
        amd: AmdVerdict | None = None,
    ) -> None:
        call.on_progress(
            CallProgress(
                call_id=call.call_id,
                phase=phase,
                at=utc_now(),
                outcome=outcome.value if outcome else None,
                sip_status=sip_status,
                sip_reason=sip_reason,
                bridged_to=bridged_to,
                amd=amd,
            )
        )

    async def hang_up(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is not None:
            call.hangup.set()
            if call.task is not None:
                await asyncio.gather(call.task, return_exceptions=True)

    async def play_and_hang_up(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is None or call.phase != "answered":
            raise CarrierError(f"{call_id} is not an answered call")
        await asyncio.sleep(1.5 * self.profile.time_scale)  # the abandon message
        await self.hang_up(call_id)

    async def play_prompt(self, call_id: str, wav: str) -> None:
        call = self._calls.get(call_id)
        if call is None or call.phase != "answered":
            raise CarrierError(f"{call_id} is not an answered call")
        try:
            with wave.open(wav, "rb") as prompt:
                seconds = prompt.getnframes() / prompt.getframerate()
        except (OSError, wave.Error, EOFError) as exc:
            raise CarrierError(f"prompt {wav} not usable: {exc}") from exc
        await asyncio.sleep(seconds * self.profile.time_scale)

    def take_inbound(self, handler: InboundHandler) -> None:
        """No one rings a simulated number back: the handler is never called."""
        self.inbound = handler

    def record(self, call_id: str, sink: RecordingSink) -> None:
        call = self._calls.get(call_id)
        agent = self._agents.get(call.bridged_to or "") if call is not None else None
        if call is None or agent is None:
            raise CarrierError(f"{call_id} is not bridged")
        if call.recording is not None:
            raise CarrierError(f"{call_id} is being recorded already")
        call.recording = sink
        if agent.browser is not None:
            agent.browser.tap(agent_samples_to_sink(sink))
        call.recording_pump = asyncio.get_running_loop().create_task(
            pump(call.voice, sink, agent_speaks=lambda: call.agent_speaks)
        )

    @staticmethod
    def _stop_recording(call: _SimCall) -> None:
        """The customer hung up: the call's one recording is cut here (holds
        and transfers before that only change who is on the agent channel)."""
        if call.recording is None:
            return
        if call.recording_pump is not None:
            call.recording_pump.cancel()
            call.recording_pump = None
        call.recording.finish()
        call.recording = None

    async def connect_agent(self, request: AgentLegRequest, on_progress: ProgressCallback) -> None:
        if request.agent_leg_id in self._agents:
            raise CarrierError(f"agent leg {request.agent_leg_id} already exists")
        leg = _SimCall(request.agent_leg_id, on_progress, "agent")
        self._agents[request.agent_leg_id] = leg
        self._emit(leg, "dialing")
        phones = self.browser_phones
        if phones is not None and phones.handles(request.agent_uri):
            on_event = functools.partial(self._browser_event, leg)
            leg.browser = await phones.call(request.agent_uri, on_event, leg_id=leg.call_id)
            if leg.phase == "ended":  # disconnected while the call was being placed
                await leg.browser.hang_up()
            return
        leg.phase = "answered"
        self._emit(leg, "answered", sip_status=200, sip_reason="OK")

    def _browser_event(self, leg: _SimCall, event: LegEvent) -> None:
        """A browser leg's steps, reported as a SIP agent leg's would be."""
        if leg.phase == "ended":
            return
        if event.kind == "ringing":
            leg.phase = "ringing"
            self._emit(leg, "ringing", sip_status=event.status, sip_reason=event.reason)
        elif event.kind == "answered":
            leg.phase = "answered"
            self._emit(leg, "answered", sip_status=event.status, sip_reason=event.reason)
        else:
            if leg.phase == "answered":
                outcome = Outcome.ANSWERED
            else:
                outcome = outcome_for_status(event.status) if event.status else Outcome.FAILED
            self._agent_ended(leg, outcome, event.status, event.reason)

    def _agent_ended(
        self, leg: _SimCall, outcome: Outcome, status: int | None, reason: str
    ) -> None:
        self._agents.pop(leg.call_id, None)
        bridged = leg.bridged_to
        call = self._calls.get(bridged) if bridged is not None else None
        if call is not None:
            self._bridge_over(call, leg)
            call.bridged_to = None
            call.monitors.clear()
        leg.phase = "ended"
        self._emit(leg, "ended", outcome, status, reason, bridged)

    async def disconnect_agent(self, agent_leg_id: str) -> None:
        leg = self._agents.get(agent_leg_id)
        if leg is None:
            return
        if leg.browser is not None:
            await leg.browser.hang_up()  # its ended event reports the leg
            return
        self._agent_ended(leg, Outcome.ANSWERED, 200, "local hangup")

    async def bridge(self, call_id: str, agent_leg_id: str) -> None:
        call = self._calls.get(call_id)
        agent = self._agents.get(agent_leg_id)
        if call is None or call.phase != "answered":
            raise CarrierError(f"{call_id} is not an answered call")
        if agent is None:
            raise CarrierError(f"no agent leg {agent_leg_id}")
        if agent.bridged_to not in (None, call_id):
            raise CarrierError(f"agent leg {agent_leg_id} is bridged to {agent.bridged_to}")
        first = agent.bridged_to is None
        call.bridged_to, agent.bridged_to = agent_leg_id, call_id
        call.agent_speaks = agent.browser is not None
        if call.recording is not None and agent.browser is not None:
            agent.browser.tap(agent_samples_to_sink(call.recording))
        line = Line.MACHINE if call.fate == "machine" else Line.HELLO
        if first:
            call.voice.say(call.language, line)
        if first and agent.browser is not None:
            agent.browser.reset_heard()
            agent.browser.play(pcm8k(call.language, line))

    async def unbridge(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is None or call.bridged_to is None:
            return
        agent = self._agents.get(call.bridged_to)
        if agent is not None:
            self._bridge_over(call, agent)
            agent.bridged_to = None
        call.bridged_to = None
        call.monitors.clear()

    async def hold(self, call_id: str, wav: str) -> None:
        call = self._calls.get(call_id)
        if call is None or call.phase != "answered":
            raise CarrierError(f"{call_id} is not an answered call")
        await self.unbridge(call_id)

    async def unhold(self, call_id: str) -> None:
        """No audio here: nothing plays, nothing stops."""

    async def bridge_agents(self, leg_a: str, leg_b: str) -> None:
        for leg_id in (leg_a, leg_b):
            leg = self._agents.get(leg_id)
            if leg is None or leg.phase != "answered" or leg.bridged_to is not None:
                raise CarrierError(f"agent leg {leg_id} cannot consult")

    async def unbridge_agents(self, leg_a: str, leg_b: str) -> None:
        """No audio here: the consult leaves no trace."""

    async def join_calls(self, call_id: str, other_call_id: str) -> None:
        for leg_id in (call_id, other_call_id):
            call = self._calls.get(leg_id)
            if call is None or call.phase != "answered":
                raise CarrierError(f"{leg_id} is not an answered call")
        await self.unbridge(call_id)

    async def monitor(self, call_id: str, leg_id: str, mode: str) -> None:
        call = self._calls.get(call_id)
        watcher = self._agents.get(leg_id)
        if call is None or call.phase != "answered" or call.bridged_to is None:
            raise CarrierError(f"{call_id} is not bridged")
        if watcher is None or watcher.phase != "answered" or watcher.bridged_to is not None:
            raise CarrierError(f"leg {leg_id} cannot monitor")
        if leg_id not in call.monitors and watcher.browser is not None:
            # No mix here (that is the SIP trunk's): a supervisor's browser
            # phone hears the customer's line, so listening in can be tried.
            line = Line.MACHINE if call.fate == "machine" else Line.HELLO
            watcher.browser.play(pcm8k(call.language, line))
        call.monitors[leg_id] = mode

    async def end_monitor(self, call_id: str, leg_id: str) -> None:
        call = self._calls.get(call_id)
        if call is not None:
            call.monitors.pop(leg_id, None)

    @classmethod
    def _bridge_over(cls, call: _SimCall, agent: _SimCall) -> None:
        """The recording is cut; the customer stops speaking into the agent's
        browser phone and says what they heard."""
        call.agent_speaks = False
        if agent.browser is None:
            return
        agent.browser.tap(None)
        agent.browser.stop_playing()
        heard = agent.browser.heard()
        frequency = "none" if heard.frequency_hz is None else f"{heard.frequency_hz:.0f}"
        log.info(
            "simulated customer heard the agent on %s: %.1f s of audio, level %.1f dBFS, "
            "dominant frequency %s Hz",
            call.call_id,
            heard.seconds,
            heard.level_dbfs,
            frequency,
            extra={"call_id": call.call_id},
        )
