"""The SIP trunk: :class:`dialer.carrier.Carrier` over real SIP/RTP.

Construct with a :class:`SipTrunkConfig`; everything runs on the caller's
event loop (one SIP transport, UDP or TCP, and one UDP socket per leg for RTP)::

    trunk = SipTrunk(SipTrunkConfig(ua=UaConfig(trunk_uri="sip:10.0.0.1:5060",
                                                username="dialer", password="s3cret")))
    await trunk.start()
    await trunk.originate(OriginateRequest("c1", "+989121234567", "+982100000000", 25), print)
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from dialer.carrier import (
    AgentLegRequest,
    AmdAction,
    AmdMode,
    AmdResult,
    AmdVerdict,
    CallProgress,
    CarrierError,
    InboundHandler,
    InboundOffer,
    OriginateRequest,
    Outcome,
    ProgressCallback,
    RecordingSink,
    TrunkHealth,
    TrunkStatus,
    utc_now,
)
from dialer.sip.amd import AmdConfig, AnsweringMachineDetector, GreetingEnd
from dialer.sip.audio import DEFAULT_VOICEMAIL_WAV, Prompt, PromptError
from dialer.sip.conference import Conference, MixClock, MonitorMode, monitor_matrix
from dialer.sip.keepalive import OptionsProbe
from dialer.sip.message import SipMessage, uri_of
from dialer.sip.recorder import AGENT, CUSTOMER
from dialer.sip.registration import Registration
from dialer.sip.rtp import FRAME_SECONDS, RtpPacket, connect, disconnect
from dialer.sip.transport import Address, TraceHook
from dialer.sip.ua import Call, CallEvent, UaConfig, UserAgent, resolve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SipTrunkConfig:
    ua: UaConfig = field(default_factory=UaConfig)
    abandon_wav: Path | None = None  # None: the generated default chime
    register: bool = False
    register_expires_s: int = 300
    keepalive_interval_s: float | None = 30.0  # OPTIONS to the trunk; None turns it off
    unhealthy_probe_s: float = 30.0  # with keepalives off: OPTIONS while unhealthy
    agent_ring_timeout_s: float = 30.0
    caller_id: str = "anonymous"  # From user of a call whose campaign has none
    caller_name: str | None = None  # From display name of a call that brings none
    # The detector's tuning; each call asks for detection or not (OriginateRequest.amd).
    amd: AmdConfig = field(default_factory=AmdConfig)


@dataclass
class _Leg:
    call: Call
    on_progress: ProgressCallback
    task: asyncio.Task[None] | None = None
    bridged_to: str | None = None
    amd_mode: AmdMode = AmdMode.OFF
    voicemail_wav: str | None = None
    verdict: AmdVerdict | None = None
    machine_reason: str | None = None
    recording: RecordingSink | None = None
    conference: Conference | None = None  # a customer call someone monitors
    monitors: dict[str, MonitorMode] = field(default_factory=dict)  # monitor leg id -> mode
    monitoring: str | None = None  # a supervisor's leg: the call it monitors
    hold_task: asyncio.Task[None] | None = None  # hold music playing to a customer
    consulting: str | None = None  # an agent leg: the agent leg it consults
    joined_to: str | None = None  # a customer call: the outside call it is joined to


class SipTrunk:
    def __init__(self, config: SipTrunkConfig, trace: TraceHook | None = None) -> None:
        self.config = config
        self.ua = UserAgent(config.ua, trace)
        self._customers: dict[str, _Leg] = {}
        self._agents: dict[str, _Leg] = {}
        self._background: list[asyncio.Task[None]] = []
        self._prompt: Prompt | None = None
        self._voicemails: dict[str, Prompt] = {}  # by WAV path; "" is the shipped message
        self._prompts: dict[str, Prompt] = {}  # other WAVs played to customers, by path
        self.mix_clock = MixClock()
        self.options = OptionsProbe(
            self.ua,
            interval_s=config.keepalive_interval_s,
            unhealthy_probe_s=config.unhealthy_probe_s,
        )
        self._inbound: InboundHandler | None = None
        self.registration: Registration | None = None
        if config.register:
            self.registration = Registration(
                self.ua,
                expires_s=config.register_expires_s,
                retry_after_s=config.unhealthy_probe_s,
            )

    # lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        self._prompt = Prompt.load(self.config.abandon_wav)
        self._voicemails[""] = Prompt.load(DEFAULT_VOICEMAIL_WAV)
        await self.ua.start()
        loop = asyncio.get_running_loop()
        self._background.append(loop.create_task(self.options.run()))
        if self.registration is not None:
            granted = await self.registration.register()
            self._background.append(loop.create_task(self.registration.keep_registered(granted)))

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        legs = [*self._customers.values(), *self._agents.values()]
        await asyncio.gather(*(leg.call.hang_up() for leg in legs), return_exceptions=True)
        tasks = [leg.task for leg in legs if leg.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=self.config.ua.timers.b)
        for leg in legs:
            # E.g. a CANCEL the trunk never finished with a final response: the
            # call still ends here, so it is reported and its row closed.
            leg.call.abort("dialer stopped before the trunk ended the call")
        if self.registration is not None:
            await self.registration.unregister()
        await self.ua.stop()

    def health(self) -> TrunkHealth:
        registration = self.registration.state if self.registration is not None else None
        if registration is not None and registration.phase == "failed":
            return TrunkHealth(False, registration.detail, registration.changed_at)
        health = self.ua.health()
        if not health.healthy and self._worth_trying_again():
            return TrunkHealth(
                True,
                f"trying the trunk again (it does not answer OPTIONS): {health.reason}",
                health.since,
            )
        return health

    def _worth_trying_again(self) -> bool:
        """A trunk that never answers OPTIONS cannot be probed: once it has been
        quiet for the probe interval, let calls find out whether it is back."""
        failed_at = self.ua.last_failure_at
        if self.options.state.answered_ever or failed_at is None:
            return False
        return time.monotonic() - failed_at >= self.config.unhealthy_probe_s

    def status(self) -> TrunkStatus:
        health = self.health()
        options = self.options.state
        registration = self.registration.state if self.registration is not None else None
        if options.last_status is not None:
            options_answer = "answered"
        elif options.last_at is not None:
            options_answer = "unanswered" if options.answered_ever else "never answered"
        else:
            options_answer = "on" if options.enabled else "off"
        status_text = (
            f"{options.last_status} {options.last_reason}"
            if options.last_status is not None
            else options.last_reason
        )
        host, port = self.ua.advertised_address
        return TrunkStatus(
            healthy=health.healthy,
            reason=health.reason,
            registration=registration.phase if registration is not None else "off",
            registration_detail=registration.detail if registration is not None else "",
            registered_until=registration.expires_at if registration is not None else None,
            options=options_answer,
            options_status=status_text,
            options_rtt_ms=options.last_rtt_ms,
            options_at=options.last_at,
            calls_in_flight=len(self._customers),
            agent_legs=len(self._agents),
            address=f"{host}:{port}",
        )

    @property
    def local_address(self) -> tuple[str, int]:
        return self.ua.local_address

    # customer calls -----------------------------------------------------------
    async def originate(self, request: OriginateRequest, on_progress: ProgressCallback) -> None:
        if request.call_id in self._customers:
            raise CarrierError(f"call {request.call_id} already exists")
        leg = await self._start_leg(
            request.call_id,
            self.ua.trunk_target(request.to_number),
            request.caller_id or self.config.caller_id,
            request.ring_timeout_s,
            on_progress,
            None,
            amd_mode=AmdMode(request.amd),
            voicemail_wav=request.voicemail_wav,
            caller_name=request.caller_name or self.config.caller_name,
        )
        self._customers[request.call_id] = leg

    async def hang_up(self, call_id: str) -> None:
        leg = self._customers.get(call_id)
        if leg is not None:
            await leg.call.hang_up()

    async def play_and_hang_up(self, call_id: str) -> None:
        leg = self._answered(self._customers, call_id)
        assert self._prompt is not None and leg.call.rtp is not None
        self._unbridge_leg(call_id)
        await leg.call.rtp.play(self._prompt.payload(leg.call.rtp.codec))
        await leg.call.hang_up()

    # agent legs ---------------------------------------------------------------
    async def connect_agent(self, request: AgentLegRequest, on_progress: ProgressCallback) -> None:
        if request.agent_leg_id in self._agents:
            raise CarrierError(f"agent leg {request.agent_leg_id} already exists")
        dest = await resolve(request.agent_uri)
        leg = await self._start_leg(
            request.agent_leg_id,
            request.agent_uri,
            "dialer",
            self.config.agent_ring_timeout_s,
            on_progress,
            dest,
        )
        self._agents[request.agent_leg_id] = leg

    async def disconnect_agent(self, agent_leg_id: str) -> None:
        leg = self._agents.get(agent_leg_id)
        if leg is not None:
            await leg.call.hang_up()

    # bridging -----------------------------------------------------------------
    async def bridge(self, call_id: str, agent_leg_id: str) -> None:
        customer = self._answered(self._customers, call_id)
        agent = self._answered(self._agents, agent_leg_id)
        if agent.bridged_to is not None and agent.bridged_to != call_id:
            raise CarrierError(f"agent leg {agent_leg_id} is bridged to {agent.bridged_to}")
        assert customer.call.rtp is not None and agent.call.rtp is not None
        connect(customer.call.rtp, agent.call.rtp)
        customer.bridged_to, agent.bridged_to = agent_leg_id, call_id

    async def unbridge(self, call_id: str) -> None:
        self._unbridge_leg(call_id)

    async def play_prompt(self, call_id: str, wav: str) -> None:
        leg = self._answered(self._customers, call_id)
        if wav not in self._prompts:
            try:
                self._prompts[wav] = await asyncio.to_thread(Prompt.load, Path(wav))
            except (OSError, PromptError) as exc:
                raise CarrierError(f"prompt {wav} not usable: {exc}") from exc
        rtp = leg.call.rtp
        assert rtp is not None
        await rtp.play(self._prompts[wav].payload(rtp.codec))

    # customers ringing back ----------------------------------------------------
    def take_inbound(self, handler: InboundHandler) -> None:
        self._inbound = handler
        self.ua.on_invite = self._on_invite

    def _on_invite(self, req: SipMessage, addr: Address) -> bool:
        if self._inbound is None:
            return False
        offer = InboundOffer(
            call_id=uuid.uuid4().hex,
            dialed=user_part(req.uri or ""),
            caller=user_part(uri_of(req.get("From") or "")),
        )
        leg: _Leg | None = None

        def on_event(call: Call, event: CallEvent) -> None:
            if leg is not None:
                self._report(leg, event)

        call = self.ua.answer_invite(req, addr, offer.call_id, on_event)
        handler = self._inbound

        async def decide() -> None:
            nonlocal leg
            try:
                on_progress = await handler(offer)
            except Exception:
                log.exception("inbound call %s not decided", offer.call_id)
                on_progress = None
            if on_progress is None:
                call.decline(404, "Not Found")
                return
            leg = _Leg(call, on_progress)
            self._customers[offer.call_id] = leg
            leg.task = asyncio.get_running_loop().create_task(call.run())

        self.ua.spawn(decide())
        return True

    def record(self, call_id: str, sink: RecordingSink) -> None:
        customer = self._answered(self._customers, call_id)
        agent = self._agents.get(customer.bridged_to or "")
        if agent is None or customer.call.rtp is None or agent.call.rtp is None:
            raise CarrierError(f"{call_id} is not bridged")
        if customer.recording is not None:
            raise CarrierError(f"{call_id} is being recorded already")
        customer.recording = sink
        customer.call.rtp.tap = lambda pt, payload: sink.feed(CUSTOMER, pt, payload)
        customer.call.rtp.sent_tap = lambda pt, payload: sink.feed(AGENT, pt, payload)

    @staticmethod
    def _stop_recording(customer: _Leg) -> None:
        """The customer hung up: the call's one recording is cut here."""
        if customer.recording is None:
            return
        customer.recording.finish()
        customer.recording = None
        if customer.call.rtp is not None:
            customer.call.rtp.tap = customer.call.rtp.sent_tap = None

    # transfers -------------------------------------------------------------------
    async def hold(self, call_id: str, wav: str) -> None:
        customer = self._answered(self._customers, call_id)
        if customer.hold_task is not None:
            return
        self._unbridge_leg(call_id)
        if wav not in self._prompts:
            try:
                self._prompts[wav] = await asyncio.to_thread(Prompt.load, Path(wav))
            except (OSError, PromptError) as exc:
                raise CarrierError(f"hold music {wav} not usable: {exc}") from exc
        rtp = customer.call.rtp
        assert rtp is not None
        music = self._prompts[wav].payload(rtp.codec)

        async def loop() -> None:
            while customer.call.phase == "answered":
                await rtp.play(music)

        customer.hold_task = asyncio.get_running_loop().create_task(loop())

    async def unhold(self, call_id: str) -> None:
        customer = self._customers.get(call_id)
        if customer is None or customer.hold_task is None:
            return
        task, customer.hold_task = customer.hold_task, None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def bridge_agents(self, leg_a: str, leg_b: str) -> None:
        first = self._answered(self._agents, leg_a)
        second = self._answered(self._agents, leg_b)
        for leg in (first, second):
            if leg.bridged_to is not None or leg.monitoring is not None:
                raise CarrierError(f"agent leg {leg.call.call_id} is on a call")
        assert first.call.rtp is not None and second.call.rtp is not None
        connect(first.call.rtp, second.call.rtp)
        first.consulting, second.consulting = leg_b, leg_a

    async def unbridge_agents(self, leg_a: str, leg_b: str) -> None:
        first, second = self._agents.get(leg_a), self._agents.get(leg_b)
        if first is None or second is None:
            return
        if first.call.rtp is not None and second.call.rtp is not None:
            disconnect(first.call.rtp, second.call.rtp)
        first.consulting = second.consulting = None

    async def join_calls(self, call_id: str, other_call_id: str) -> None:
        customer = self._answered(self._customers, call_id)
        other = self._answered(self._customers, other_call_id)
        await self.unhold(call_id)
        self._unbridge_leg(call_id)
        assert customer.call.rtp is not None and other.call.rtp is not None
        connect(customer.call.rtp, other.call.rtp)
        customer.joined_to, other.joined_to = other_call_id, call_id

    # monitoring: a supervisor's phone leg hears a bridged call ------------------
    async def monitor(self, call_id: str, leg_id: str, mode: str) -> None:
        customer = self._answered(self._customers, call_id)
        watcher = self._answered(self._agents, leg_id)
        agent = self._agents.get(customer.bridged_to or "")
        if agent is None or customer.call.rtp is None or agent.call.rtp is None:
            raise CarrierError(f"{call_id} is not bridged")
        if watcher.bridged_to is not None or watcher.monitoring not in (None, call_id):
            raise CarrierError(f"leg {leg_id} is busy elsewhere")
        assert watcher.call.rtp is not None
        conference = customer.conference
        if conference is None:
            conference = Conference(call_id, self.mix_clock)
            conference.join(call_id, customer.call.rtp)
            conference.join(agent.call.call_id, agent.call.rtp)
            customer.conference = conference
        if leg_id not in conference.names:
            conference.join(leg_id, watcher.call.rtp)
        customer.monitors[leg_id] = MonitorMode(mode)
        watcher.monitoring = call_id
        conference.set_matrix(monitor_matrix(call_id, agent.call.call_id, customer.monitors))

    async def end_monitor(self, call_id: str, leg_id: str) -> None:
        self._end_monitor(call_id, leg_id)

    def _end_monitor(self, call_id: str, leg_id: str) -> None:
        watcher = self._agents.get(leg_id)
        if watcher is not None and watcher.monitoring == call_id:
            watcher.monitoring = None
        customer = self._customers.get(call_id)
        if customer is None or customer.conference is None:
            return
        customer.monitors.pop(leg_id, None)
        customer.conference.leave(leg_id)
        if not customer.monitors:
            self._close_conference(customer)

    def _close_conference(self, customer: _Leg) -> None:
        """Back to the plain two-way relay (the legs stay as they are)."""
        conference, customer.conference = customer.conference, None
        if conference is None:
            return
        conference.close()
        for leg_id in customer.monitors:
            watcher = self._agents.get(leg_id)
            if watcher is not None:
                watcher.monitoring = None
        customer.monitors.clear()
        agent = self._agents.get(customer.bridged_to or "")
        if agent is not None and customer.call.rtp is not None and agent.call.rtp is not None:
            connect(customer.call.rtp, agent.call.rtp)

    def _unbridge_leg(self, call_id: str) -> None:
        customer = self._customers.get(call_id)
        if customer is None or customer.bridged_to is None:
            return
        self._close_conference(customer)
        agent = self._agents.get(customer.bridged_to)
        if agent is not None:
            agent.bridged_to = None
            if customer.call.rtp is not None and agent.call.rtp is not None:
                disconnect(customer.call.rtp, agent.call.rtp)
        customer.bridged_to = None

    def media_stats(self, leg_id: str) -> dict[str, int]:
        """RTP counters of a leg (customer call id or agent leg id)."""
        leg = self._customers.get(leg_id) or self._agents.get(leg_id)
        if leg is None or leg.call.rtp is None:
            raise CarrierError(f"no media for {leg_id}")
        return vars(leg.call.rtp.stats).copy()

    # internals ----------------------------------------------------------------
    async def _start_leg(
        self,
        leg_id: str,
        target: str,
        caller: str,
        ring_timeout_s: float,
        on_progress: ProgressCallback,
        dest: tuple[str, int] | None,
        amd_mode: AmdMode = AmdMode.OFF,
        voicemail_wav: str | None = None,
        caller_name: str | None = None,
    ) -> _Leg:
        dialing = asyncio.Event()

        def on_event(call: Call, event: CallEvent) -> None:
            if event.phase == "dialing":
                dialing.set()
            if event.phase == "answered" and leg.amd_mode is not AmdMode.OFF:
                self._start_amd(leg, event)
                return
            self._report(leg, event)

        call = self.ua.new_call(leg_id, target, caller, ring_timeout_s, on_event, dest, caller_name)
        leg = _Leg(call, on_progress, amd_mode=amd_mode, voicemail_wav=voicemail_wav)
        leg.task = asyncio.get_running_loop().create_task(call.run())
        done_first = asyncio.ensure_future(dialing.wait())
        await asyncio.wait([done_first, leg.task], return_when=asyncio.FIRST_COMPLETED)
        done_first.cancel()
        return leg

    def _start_amd(self, leg: _Leg, answered: CallEvent) -> None:
        """Hold back ``answered`` until the detector decides (or its window runs out)."""
        assert leg.call.rtp is not None
        cfg = self.config.amd
        rtp = leg.call.rtp
        detector = AnsweringMachineDetector(rtp.codec, cfg)
        loop = asyncio.get_running_loop()
        answered_at, started = utc_now(), loop.time()

        def decide(verdict: str, reason: str) -> None:
            rtp.listener = None
            timer.cancel()
            if leg.call.phase != "answered":
                return
            elapsed_ms = round(1000 * (loop.time() - started))
            if verdict == "machine":
                leg.machine_reason = f"answering machine: {reason}"
                leg.verdict = AmdVerdict(AmdResult.MACHINE, elapsed_ms, answered_at)
                self.ua.spawn(self._on_machine(leg))
            else:
                action = AmdAction.PASSED_TO_AGENT
                leg.verdict = AmdVerdict(AmdResult(verdict), elapsed_ms, answered_at, action)
                self._report(leg, answered)

        def on_packet(packet: RtpPacket) -> None:
            result = detector.feed(packet.payload)
            if result is not None:
                decide(result.verdict, result.reason)

        timer = loop.call_later(cfg.total_analysis_s + 0.5, decide, "not_sure", "no audio")
        rtp.listener = on_packet

    async def _on_machine(self, leg: _Leg) -> None:
        """Hang up on a machine, or first leave the campaign's message after its greeting."""
        assert leg.verdict is not None
        action = AmdAction.HUNG_UP
        try:
            if leg.amd_mode is AmdMode.MESSAGE:
                action = await self._leave_message(leg)
        except Exception:
            log.exception(
                "voicemail message to %s failed",
                leg.call.call_id,
                extra={"call_id": leg.call.call_id},
            )
        finally:
            if leg.call.phase == "answered":
                leg.verdict = replace(leg.verdict, action=action)
            await leg.call.hang_up()

    async def _leave_message(self, leg: _Leg) -> AmdAction:
        prompt = await self._voicemail(leg.voicemail_wav)
        rtp = leg.call.rtp
        assert rtp is not None
        ended_by = await self._greeting_end(leg)
        if ended_by is None:
            return AmdAction.HUNG_UP
        log.info(
            "call %s: machine greeting over (%s), leaving the message",
            leg.call.call_id,
            ended_by,
            extra={"call_id": leg.call.call_id},
        )
        await rtp.play(prompt.payload(rtp.codec))
        return AmdAction.MESSAGE_PLAYED

    async def _greeting_end(self, leg: _Leg) -> str | None:
        """Wait until the machine's greeting is over (silence, a beep, a stream
        that stopped, or the longest wait); None if the call ended first."""
        cfg = self.config.amd
        rtp = leg.call.rtp
        assert rtp is not None
        loop = asyncio.get_running_loop()
        detector = GreetingEnd(rtp.codec, cfg)
        heard = loop.time()
        deadline = heard + cfg.max_message_wait_s

        def on_packet(packet: RtpPacket) -> None:
            nonlocal heard
            heard = loop.time()
            detector.feed(packet.payload)

        rtp.listener = on_packet
        try:
            while leg.call.phase == "answered":
                now = loop.time()
                if detector.reason is not None:
                    return detector.reason
                if now - heard >= cfg.greeting_end_silence_s:
                    return "no audio"
                if now >= deadline:
                    return "longest wait"
                await asyncio.sleep(FRAME_SECONDS)
            return None
        finally:
            rtp.listener = None

    async def _voicemail(self, path: str | None) -> Prompt:
        """The campaign's message (loaded once, off the loop), or the shipped one."""
        key = path or ""
        if key not in self._voicemails:
            try:
                self._voicemails[key] = await asyncio.to_thread(Prompt.load, Path(key))
            except (OSError, PromptError) as exc:
                log.warning("voicemail %s not usable (%s): the shipped message plays", key, exc)
                return self._voicemails[""]
        return self._voicemails[key]

    def _report(self, leg: _Leg, event: CallEvent) -> None:
        bridged_to = leg.bridged_to
        outcome = event.outcome.value if event.outcome else None
        reason = event.sip_reason
        if event.phase == "ended":
            self._on_leg_ended(leg)
            if leg.machine_reason is not None:
                outcome, reason = Outcome.MACHINE.value, leg.machine_reason
        machine = leg.machine_reason is not None
        progress = CallProgress(
            call_id=leg.call.call_id,
            phase=event.phase,  # type: ignore[arg-type]
            at=utc_now(),
            outcome=outcome,
            sip_status=event.sip_status,
            sip_reason=reason,
            bridged_to=bridged_to if event.phase == "ended" else None,
            amd=leg.verdict if event.phase == "answered" or machine else None,
        )
        try:
            leg.on_progress(progress)
        except Exception:
            log.exception(
                "on_progress failed for %s", leg.call.call_id, extra={"call_id": leg.call.call_id}
            )

    def _on_leg_ended(self, leg: _Leg) -> None:
        leg_id = leg.call.call_id
        if self._customers.get(leg_id) is leg:
            self._unbridge_leg(leg_id)
            self._stop_recording(leg)
            if leg.hold_task is not None:
                leg.hold_task.cancel()
            other = self._customers.get(leg.joined_to or "")
            if other is not None and other.call.rtp is not None and leg.call.rtp is not None:
                disconnect(other.call.rtp, leg.call.rtp)
                other.joined_to = None
            del self._customers[leg_id]
        elif self._agents.get(leg_id) is leg:
            if leg.bridged_to is not None:
                self._unbridge_leg(leg.bridged_to)
            if leg.consulting is not None:
                partner = self._agents.get(leg.consulting)
                if partner is not None:
                    partner.consulting = None
                    if partner.call.rtp is not None and leg.call.rtp is not None:
                        disconnect(partner.call.rtp, leg.call.rtp)
            if leg.monitoring is not None:
                self._end_monitor(leg.monitoring, leg_id)
            del self._agents[leg_id]

    @staticmethod
    def _answered(legs: dict[str, _Leg], leg_id: str) -> _Leg:
        leg = legs.get(leg_id)
        if leg is None or leg.call.phase != "answered":
            raise CarrierError(f"{leg_id} is not an answered call")
        return leg


def user_part(uri: str) -> str:
    """The user of ``sip:user@host`` (percent-decoded), or "" when it has none."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    if "@" not in rest:
        return ""
    return urllib.parse.unquote(rest.split("@", 1)[0].split(";", 1)[0])
