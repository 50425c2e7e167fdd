"""The dialer worker: every tick (1 s) it asks each active campaign's pacer how
many calls to place, takes leads from the hopper (each claimed in the database
first: the final guard), places the calls through the carrier, connects live
answers to the longest-idle ready agent within the abandon window (else plays
the abandon message), and reports every step as a ``call.*`` bus event.

One asyncio loop carries everything. Database work goes through the ports
(:mod:`dialer.ports`) in a worker thread (`asyncio.to_thread`) so a slow
commit never delays a SIP timer. The calls rows, the agent's on-call and
wrap-up states and the settling of leads no agent talked to are written by
the calls service when it consumes the worker's events (one transaction per
event, idempotent on the event id), so nothing is written twice.

Modes: *predictive* launches what the pacer says; *progressive* is the pacer
in its one-call-per-ready-agent mode; *preview* offers a ready agent a lead
(``preview.offered``) and dials it when they ask (``preview.call_requested``)
or when the campaign's preview timeout passes. In any mode an agent may dial
a number by hand (``manual_dial.requested``): placed for them as a preview is.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callcenter.bus import EventBus
from callcenter.db import utcnow
from callcenter.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallHangupRequested,
    CallRinging,
    DialingHeld,
    Event,
    HopperDepth,
    ManualDialRequested,
    MonitorEnded,
    MonitorModeChanged,
    MonitorRequested,
    MonitorStopRequested,
    PacerLevelChanged,
    PreviewCallRequested,
    PreviewOffered,
    PreviewSkipped,
    RecordingFinished,
    RecordingRequested,
    RecordingStarted,
    TransferActionRequested,
    TransferRequested,
    TrunkStatusReported,
)
from dialer.agent_legs import AgentLeg, AgentLegs
from dialer.agent_pool import AgentPool
from dialer.carrier import (
    AmdVerdict,
    CallProgress,
    Carrier,
    CarrierError,
    InboundOffer,
    OriginateRequest,
    ProgressCallback,
)
from dialer.consent_prompts import ConsentPromptCache
from dialer.monitor_legs import MonitorLegs
from dialer.pacing import (
    AbandonTally,
    AgentStatus,
    AgentView,
    CallOutcome,
    CallResult,
    DialMode,
    Pacer,
    PacerDecision,
    PacerState,
    ServiceRecord,
)
from dialer.ports import (
    AgentPhase,
    AgentSnapshot,
    CampaignPlan,
    ClaimedLead,
    DialerServices,
    HeldLead,
    LeadSource,
    Mode,
)
from dialer.recordings import CallRecorder, RecordingOutcome
from dialer.sip.recorder import Recording
from dialer.transfers import TransferDesk
from dialer.voices import consent_wav, ringback_wav

log = logging.getLogger(__name__)

ABANDONED = "abandoned"
MANUAL_DIAL_PASSES = 8
"""How often a manual dial for a campaign this dialer does not hold is passed
on to the group before the agent is let go (no dialer holds it)."""
_TRUNK_STATE_KEYS = ("healthy", "reason", "registration", "registration_detail", "options")
# A machine an agent took (AMD off) stays LIVE here, even once the agent marks
# it: it needed an agent, which is what the pacer's answer estimate is for; the
# abandon tallies are read from the rows, where it is a machine.
_RESULTS = {
    "answered": CallResult.LIVE,
    "machine": CallResult.MACHINE,
    "no_answer": CallResult.NO_ANSWER,
}
_PACER_STATUS = {
    AgentPhase.READY: AgentStatus.READY,
    AgentPhase.RESERVED: AgentStatus.TALKING,
    AgentPhase.ON_CALL: AgentStatus.TALKING,
    AgentPhase.WRAP_UP: AgentStatus.WRAPUP,
    AgentPhase.PAUSED: AgentStatus.PAUSED,
}


@dataclass(frozen=True)
class WorkerConfig:
    tick_s: float = 1.0
    abandon_after_s: float = 2.0
    """A live answer no agent took within this long gets the abandon message."""
    agent_poll_s: float = 0.25
    """How often ready agents are re-read while live answers wait for one."""
    max_concurrent_calls: int | None = None
    """The trunk's limit on customer calls up at once (None: no limit)."""
    trunk_name: str = "default"
    talk_bound_s: float = 4 * 3600.0
    """No call lasts longer; with the ring timeout it bounds restart recovery."""
    refill_every_s: float = 10.0
    """How often the hopper is refilled from the database."""
    stale_preview_s: float = 10.0
    """An offer the workstation has not reserved the agent for by then is withdrawn."""
    trunk_status_every_s: float = 5.0
    """The trunk's status is reported this often, and at once when its state changes."""
    upload_retry_every_s: float = 5.0
    """How often the recordings the store refused are looked at (each has its own wait)."""
    extension_domain: str | None = None
    """Where an agent's phone given as an extension is called (sip:1001@this);
    None: as typed (the simulated carrier takes any label)."""


def outcome_of_ended(carrier_outcome: str | None, *, answered: bool, connected: bool) -> str:
    """The call's recorded outcome: a live answer no agent took is abandoned
    (even when the customer hung up first); a machine is never abandoned."""
    outcome = carrier_outcome or "failed"
    if answered and not connected and outcome != "machine":
        return ABANDONED
    return outcome


def same_number(ours: str, dialed: str) -> bool:
    """Whether a number called is a campaign's caller ID, however either is
    written (+98 21..., 0098 21..., 021...): their last ten digits agree."""
    ours_digits = "".join(ch for ch in ours if ch.isdigit())
    dialed_digits = "".join(ch for ch in dialed if ch.isdigit())
    if len(ours_digits) < 7 or len(dialed_digits) < 7:
        return False
    return ours_digits[-10:].lstrip("0") == dialed_digits[-10:].lstrip("0")


def amd_fields(verdict: AmdVerdict | None) -> dict[str, Any]:
    """A carrier's AMD verdict as the call events carry it."""
    if verdict is None:
        return {}
    return {
        "amd_result": verdict.result.value,
        "amd_decision_ms": verdict.decision_ms,
        "amd_action": verdict.action.value if verdict.action is not None else None,
    }


def launches_allowed(decision: PacerDecision, *, healthy: bool, trunk_room: int | None) -> int:
    """What the worker actually places: nothing on an unhealthy trunk, never
    past the trunk's limit on calls up at once."""
    if not healthy:
        return 0
    launches = max(0, decision.calls_to_launch)
    return launches if trunk_room is None else min(launches, trunk_room)


@dataclass
class LiveCall:
    call_id: str
    plan: CampaignPlan
    lead: ClaimedLead
    launched_at: float
    preview_agent: int | None = None
    answered_at: float | None = None
    agent_id: int | None = None
    connected_at: float | None = None
    connecting: bool = False
    connect_task: asyncio.Task[None] | None = None
    abandoning: bool = False
    ended: bool = False
    end_reason: str | None = None
    """Why the dialer ended the call, recorded instead of the SIP reason."""
    notice_playing: bool = False
    consent_played: bool = False
    offered_at: float | None = None
    """When the answer was first offered to agents (after the recording notice):
    the abandon window counts from here."""
    recording: Recording | None = None
    inbound: bool = False
    """The customer rang the campaign's number back."""

    @property
    def log_ids(self) -> dict[str, Any]:
        """The ids a log record about this call carries (`extra=`), never the number."""
        return {"call_id": self.call_id, "lead_id": self.lead.lead_id, "campaign_id": self.plan.id}

    @property
    def waiting(self) -> bool:
        """Answered by a person and not (being) given to an agent yet."""
        return (
            self.answered_at is not None
            and not self.notice_playing
            and self.agent_id is None
            and not self.abandoning
            and not self.ended
        )


@dataclass
class PreviewOffer:
    agent_id: int
    held: HeldLead
    offered_at: float

    @property
    def campaign_id(self) -> int:
        return self.held.campaign_id

    @property
    def lead_id(self) -> int:
        return self.held.lead_id


@dataclass
class CampaignPacing:
    pacer: Pacer
    outcomes: list[CallOutcome] = field(default_factory=list)
    services: list[ServiceRecord] = field(default_factory=list)


class DialerWorker:
    def __init__(
        self,
        *,
        services: DialerServices,
        leads: LeadSource,
        carrier: Carrier,
        bus: EventBus,
        pool: AgentPool,
        config: WorkerConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
        pacer_factory: Callable[[], Pacer] = Pacer,
        recorder: CallRecorder | None = None,
        consent_prompts: ConsentPromptCache | None = None,
    ) -> None:
        self.services = services
        self.leads = leads
        self.carrier = carrier
        self.bus = bus
        self.pool = pool
        self.config = config or WorkerConfig()
        self.clock = clock
        self._pacer_factory = pacer_factory
        self.recorder = recorder
        self.consent_prompts = consent_prompts
        self.calls: dict[str, LiveCall] = {}
        self.previews: dict[int, PreviewOffer] = {}
        self.pacing: dict[int, CampaignPacing] = {}
        self.held_reason: str | None = None
        self._held_said = False  # the floor may show what an earlier dialer said
        self._hopper_depths: dict[int, int] = {}
        self._trunk_state: dict[str, object] | None = None
        self._trunk_said_at: float | None = None
        self.placed = 0
        self.ticked_at: float | None = None  # time.monotonic() after the last tick (liveness)
        self._plans: dict[int, CampaignPlan] = {}
        self._agents: dict[int, AgentSnapshot] = {}
        self._claimed: set[int] = set()
        self._talk: dict[int, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.legs = AgentLegs(
            carrier=carrier,
            services=services,
            spawn=self._spawn,
            clock=clock,
            on_lost=self._phone_lost,
            extension_domain=self.config.extension_domain,
        )
        self.transfers = TransferDesk(self)
        self.monitors = MonitorLegs(
            carrier=carrier,
            publish=bus.publish,
            spawn=self._spawn,
            extension_domain=self.config.extension_domain,
        )
        self._waiting: dict[int, collections.deque[str]] = collections.defaultdict(
            collections.deque
        )
        self._refilled_at: float | None = None
        self._pooled: set[int] = set()
        self._subscribed = False
        self._serve_lock: asyncio.Lock | None = None
        self._refresh_lock: asyncio.Lock | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._uploads_checked_at: float | None = None
        self._retrying_uploads: asyncio.Task[int] | None = None

    # lifecycle ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Start the carrier, recover, tick until `stop` is set, then wind down."""
        await self.start()
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception:
                    log.exception("dialer tick failed; trying again next tick")
                self.ticked_at = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.tick_s)
        finally:
            await self.shutdown()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._serve_lock = asyncio.Lock()
        self._refresh_lock = asyncio.Lock()
        # Before the carrier listens: a customer ringing back is never declined
        # for want of a handler (until the first tick holds the campaigns, the
        # number is not ours yet: 404).
        self.carrier.take_inbound(self.on_inbound)
        await self.carrier.start()
        if self.recorder is not None:
            self.recorder.start()
        older_than = 300.0 + self.config.talk_bound_s  # any ring timeout plus the talk bound
        summary = await asyncio.to_thread(
            self.services.recover, now=self.clock(), older_than_s=older_than
        )
        log.info("dialer started: %s", summary)
        await asyncio.to_thread(self.services.sign_in, now=self.clock())
        self.subscribe()

    def subscribe(self) -> None:
        """Listen for the agents' requests (a bus that starts its reader only
        when it has subscribers needs this before its `start()`)."""
        if self._subscribed:
            return
        self._subscribed = True
        for event_type in (
            PreviewCallRequested,
            PreviewSkipped,
            CallHangupRequested,
            ManualDialRequested,
            RecordingRequested,
            TransferRequested,
            TransferActionRequested,
            MonitorRequested,
            MonitorModeChanged,
            MonitorStopRequested,
        ):
            self.bus.subscribe(event_type.TYPE, self._from_bus)

    def _from_bus(self, event: Event) -> None:
        """Agent requests arrive on the bus's own thread; hand them to the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._spawn, self.on_agent_request(event))

    async def shutdown(self) -> None:
        for offer in list(self.previews.values()):
            await self._withdraw(offer, "dialer stopped")
        if self._watcher is not None:
            self._watcher.cancel()
        up = sum(1 for call in self.calls.values() if not call.ended)
        self.legs.stopping = True
        await self.carrier.stop()  # ends every call; their `ended` progress is reported
        for _ in range(3):
            pending = [task for task in self._tasks if not task.done()]
            if not pending:
                break
            await asyncio.wait(pending, timeout=10)
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.stop)  # the last files cut and uploaded
            await asyncio.sleep(0)  # their recording.finished events go out
        try:
            await asyncio.to_thread(self.services.sign_off, now=self.clock())
        except Exception:
            log.exception("signing off failed: the campaigns go free when their leases expire")
        log.info("dialer stopped: %d calls placed, %d were up and ended", self.placed, up)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a coroutine in the background, kept and logged if it fails."""
        return self._spawn(coro)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dialer task failed", exc_info=task.exception())

    # the tick -------------------------------------------------------------------------------

    async def tick(self) -> None:
        now = self.clock()
        healthy = self._check_health()
        await self._report_trunk_status(now)
        before = set(self._plans)
        plans = await self.load_campaigns()
        taken_up = [plan.id for plan in plans if plan.id not in before]
        if taken_up:
            # A hopper left by a lost dialer may hold leases nobody will finish.
            await asyncio.to_thread(self.leads.rebuild, taken_up, now=now)
        mono = self._now()
        if self._refilled_at is None or mono - self._refilled_at >= self.config.refill_every_s:
            held = [plan.id for plan in plans]
            await asyncio.to_thread(self.leads.refill, held, now=now)
            if self._refilled_at is not None:
                self._say_again_what_the_floor_shows()
            self._refilled_at = mono
            summary = await asyncio.to_thread(self.services.recover_lost_work, held, now=now)
            if summary:
                log.warning("recovered what lost dialers left open: %s", summary)
        swept = await asyncio.to_thread(self.services.sweep_floor, now=now)
        if swept:
            log.info("floor sweep: %s", swept)
        await self.refresh_agents()
        for plan in plans:
            if plan.mode is Mode.PREVIEW:
                await self._preview_tick(plan, healthy)
            else:
                await self._pace(plan, now, healthy)
            await self._report_hopper_depth(plan.id)
        self._retry_uploads_when_due()

    async def _report_trunk_status(self, now: datetime) -> None:
        """Registration, OPTIONS and load of the trunk: at once when its state
        changes, else every `trunk_status_every_s` (calls up change all the time)."""
        status = self.carrier.status().as_dict()
        state = {key: status[key] for key in _TRUNK_STATE_KEYS}
        mono = self._now()
        due = self._trunk_said_at is None or mono - self._trunk_said_at >= (
            self.config.trunk_status_every_s
        )
        if state == self._trunk_state and not due:
            return
        self._trunk_state, self._trunk_said_at = state, mono
        await asyncio.to_thread(self.services.report_trunk_status, status, now=now)
        self.bus.publish(
            TrunkStatusReported(
                dialer_id=self.services.dialer_id, trunk=self.config.trunk_name, status=status
            )
        )

    def _say_again_what_the_floor_shows(self) -> None:
        """Hopper depths and a held trunk are published on change only; said
        again at each refill, a floor rebuilt after Redis lost its data (or a
        supervisor process started since) learns them again."""
        self._hopper_depths.clear()
        if self.held_reason is not None:
            self._held_said = False

    async def _report_hopper_depth(self, campaign_id: int) -> None:
        """Tell the floor how many leads are queued, when that changes."""
        depth = await asyncio.to_thread(self.leads.depth, campaign_id)
        if self._hopper_depths.get(campaign_id) != depth:
            self._hopper_depths[campaign_id] = depth
            self.bus.publish(HopperDepth(campaign_id=campaign_id, depth=depth))

    async def load_campaigns(self) -> Sequence[CampaignPlan]:
        """The active campaigns this dialer holds; a paused one, or one another
        dialer holds now, drops out here and places nothing (its calls still up
        are carried to their end)."""
        plans = await asyncio.to_thread(self.services.hold_campaigns, now=self.clock())
        for campaign_id in set(self._plans) - {plan.id for plan in plans}:
            log.info(
                "no longer dialing campaign %s (paused or held by another dialer)", campaign_id
            )
        self._plans = {plan.id: plan for plan in plans}
        return plans

    def _check_health(self) -> bool:
        health = self.carrier.health()
        reason = None if health.healthy else (health.reason or "trunk unhealthy")
        if reason != self.held_reason or not self._held_said:
            trunk = self.config.trunk_name
            if reason is not None:
                log.warning("trunk %s unhealthy, dialing held: %s", trunk, reason)
            elif self._held_said:
                log.warning("trunk %s healthy again: dialing resumed", trunk)
            self.bus.publish(
                DialingHeld(
                    trunk=trunk, held=reason is not None, reason=reason or "trunk healthy again"
                )
            )
            self.held_reason, self._held_said = reason, True
        return reason is None

    async def refresh_agents(self) -> None:
        """Re-read the agents, keep their phone legs, and offer the ready ones
        whose leg is up (and who are not claimed here) in the pool."""
        assert self._refresh_lock is not None
        async with self._refresh_lock:
            snapshot = await asyncio.to_thread(self.services.agents)
            await self.legs.keep(snapshot, self._serving())
            self._apply_agents(snapshot)
        if any(call.waiting for call in self.calls.values()):
            self._spawn(self.serve_waiting())

    def _serving(self) -> set[int]:
        """The campaigns this dialer connects answers for: a paused campaign
        still connects the answers of the calls it has up."""
        return set(self._plans) | {c.plan.id for c in self.calls.values() if not c.ended}

    def _apply_agents(self, snapshot: Sequence[AgentSnapshot]) -> None:
        self._observe_wrap_ups(snapshot)
        self._agents = {agent.agent_id: agent for agent in snapshot}
        self._drop_stale_previews()
        serving = self._serving()
        ready: dict[int, list[tuple[int, datetime]]] = {cid: [] for cid in serving}
        for agent in snapshot:
            if agent.phase is not AgentPhase.READY or agent.campaign_id not in serving:
                continue
            if agent.agent_id in self._claimed or agent.agent_id in self.previews:
                continue
            if self.legs.up(agent.agent_id) is None:
                continue  # ready only once their phone answers
            ready[agent.campaign_id].append((agent.agent_id, agent.since))
        # The pool may be shared with other dialers: only this one's campaigns.
        for campaign_id in self._pooled | set(ready):
            self.pool.sync(campaign_id, ready.get(campaign_id, []))
        self._pooled = set(ready)

    def _observe_wrap_ups(self, snapshot: Sequence[AgentSnapshot]) -> None:
        """An agent leaving wrap-up completes one service record for the pacer."""
        now = self.clock()
        phases = {agent.agent_id: agent.phase for agent in snapshot}
        for agent_id, before in self._agents.items():
            if before.phase is not AgentPhase.WRAP_UP or phases.get(agent_id) is AgentPhase.WRAP_UP:
                continue
            talk = self._talk.pop(agent_id, None)
            pacing = self.pacing.get(before.campaign_id)
            if talk is not None and pacing is not None:
                wrap = max(0.0, (now - before.since).total_seconds())
                pacing.services.append(ServiceRecord(talk_seconds=talk, wrap_seconds=wrap))

    # predictive / progressive ---------------------------------------------------------------

    def pacer_state(
        self, plan: CampaignPlan, today: AbandonTally, window: AbandonTally
    ) -> PacerState:
        now = self.clock()
        mono = self._now()
        pacing = self._pacing(plan.id)
        agents = [
            AgentView(
                status=self._pacer_status(agent, plan),
                elapsed=max(0.0, (now - agent.since).total_seconds()),
            )
            for agent in self._agents.values()
            if agent.campaign_id == plan.id
        ]
        mine = [c for c in self.calls.values() if c.plan.id == plan.id and not c.ended]
        outcomes, pacing.outcomes = pacing.outcomes, []
        services, pacing.services = pacing.services, []
        return PacerState(
            mode=DialMode(plan.mode.value),
            agents=agents,
            # A call dialed for one agent (their own callback) is theirs alone.
            calls_in_flight=[
                mono - c.launched_at
                for c in mine
                if c.answered_at is None and c.preview_agent is None
            ],
            waiting_calls=sum(1 for c in mine if c.waiting),
            outcomes=outcomes,
            services=services,
            today=today,
            last_30_days=window,
            abandon_cap=plan.abandon_cap,
            max_lines_per_agent=plan.max_lines_per_agent,
            trunk_limit=self._trunk_room_for(plan.id),
        )

    def _pacer_status(self, agent: AgentSnapshot, plan: CampaignPlan) -> AgentStatus:
        if agent.phase is AgentPhase.READY and (
            agent.agent_id in self._claimed or self._dialing_for(agent.agent_id)
        ):
            return AgentStatus.TALKING
        if agent.phase is AgentPhase.READY and self.legs.up(agent.agent_id) is None:
            return AgentStatus.PAUSED  # no calls are placed for a phone that is not up
        if agent.phase is AgentPhase.WRAP_UP and plan.wrap_up_limit_s is not None:
            wrapping = (self.clock() - agent.since).total_seconds()
            if wrapping >= plan.wrap_up_limit_s:
                return AgentStatus.PAUSED  # nobody is finishing it: the server pauses them
        return _PACER_STATUS[agent.phase]

    def _dialing_for(self, agent_id: int) -> bool:
        """A call placed for this agent alone (their own callback) is up."""
        return any(c.preview_agent == agent_id and not c.ended for c in self.calls.values())

    def _trunk_room_for(self, campaign_id: int) -> int | None:
        """The trunk limit as one campaign's pacer sees it: minus what the others hold."""
        limit = self.config.max_concurrent_calls
        if limit is None:
            return None
        others = sum(1 for c in self.calls.values() if not c.ended and c.plan.id != campaign_id)
        return max(0, limit - others)

    def trunk_room(self) -> int | None:
        limit = self.config.max_concurrent_calls
        if limit is None:
            return None
        return max(0, limit - sum(1 for c in self.calls.values() if not c.ended))

    async def _pace(self, plan: CampaignPlan, now: datetime, healthy: bool) -> None:
        if healthy:
            await self._dial_own_callbacks(plan)
        today, window = await asyncio.to_thread(self.services.abandon_tallies, plan.id, now=now)
        state = self.pacer_state(
            plan,
            AbandonTally(today.live_answers, today.abandoned),
            AbandonTally(window.live_answers, window.abandoned),
        )
        decision = self._pacing(plan.id).pacer.decide(state)
        if decision.changed:
            await asyncio.to_thread(
                self.services.record_dial_level,
                plan.id,
                decision.dial_level,
                decision.reason,
                now=now,
            )
            self.bus.publish(
                PacerLevelChanged(
                    campaign_id=plan.id, dial_level=decision.dial_level, reason=decision.reason
                )
            )
        for _ in range(launches_allowed(decision, healthy=healthy, trunk_room=self.trunk_room())):
            lead = await asyncio.to_thread(self.leads.next_lead, plan.id, now=self.clock())
            if lead is None:
                break
            await self.place_call(plan, lead)

    async def _dial_own_callbacks(self, plan: CampaignPlan) -> None:
        """A ready agent with a callback booked for them alone gets it first,
        dialed for them (held for them as a preview call is); the pacer's
        general leads come after."""
        for agent in list(self._agents.values()):
            if agent.campaign_id != plan.id or agent.phase is not AgentPhase.READY:
                continue
            agent_id = agent.agent_id
            if agent_id in self._claimed or agent_id in self.previews:
                continue
            if self.legs.up(agent_id) is None or self.trunk_room() == 0:
                continue
            if not self.leads.own_callbacks(plan.id, agent_id=agent_id):
                continue
            self._claimed.add(agent_id)
            try:
                await self._dial_own_callback(plan, agent_id)
            finally:
                self._claimed.discard(agent_id)

    async def _dial_own_callback(self, plan: CampaignPlan, agent_id: int) -> None:
        reserved = await asyncio.to_thread(
            self.services.reserve_agent,
            agent_id,
            call_id=None,
            now=self.clock(),
            reason="own callback",
        )
        if not reserved:
            return
        lead = await asyncio.to_thread(
            self.leads.own_callback, plan.id, agent_id=agent_id, now=self.clock()
        )
        if lead is None:
            await self._let_go(agent_id, "own callback gone")
            return
        log.info(
            "dialing lead %s's callback for agent %s",
            lead.lead_id,
            agent_id,
            extra={"lead_id": lead.lead_id, "agent_id": agent_id, "campaign_id": plan.id},
        )
        await self.place_call(plan, lead, agent_id=agent_id)

    def _pacing(self, campaign_id: int) -> CampaignPacing:
        if campaign_id not in self.pacing:
            self.pacing[campaign_id] = CampaignPacing(self._pacer_factory())
        return self.pacing[campaign_id]

    # placing calls --------------------------------------------------------------------------

    async def place_call(
        self,
        plan: CampaignPlan,
        lead: ClaimedLead,
        *,
        agent_id: int | None = None,
        manual: bool = False,
    ) -> LiveCall:
        """Dial a claimed lead. The calls row is written first, and
        `call.dialing` goes out before anything else is said about the call,
        so every later event finds the row whichever consumer applies it."""
        call = LiveCall(
            call_id=uuid.uuid4().hex,
            plan=plan,
            lead=lead,
            launched_at=self._now(),
            preview_agent=agent_id,
        )
        self.calls[call.call_id] = call
        self.placed += 1
        dialed_at = self.clock()
        try:
            await asyncio.to_thread(
                self.services.open_call,
                call.call_id,
                lead,
                agent_id=agent_id,
                now=dialed_at,
                is_manual=manual,
            )
        except Exception:
            # The consumer that applies call.dialing writes it instead.
            log.exception("calls row of %s not written ahead", call.call_id, extra=call.log_ids)
        self.bus.publish(
            CallDialing(
                call_id=call.call_id,
                campaign_id=plan.id,
                lead_id=lead.lead_id,
                attempt=lead.attempt,
                agent_id=agent_id,
                dialer_id=self.services.dialer_id,
                occurred_at=dialed_at,
                phone_e164=lead.phone_e164,
                is_manual=manual,
            )
        )
        request = OriginateRequest(
            call_id=call.call_id,
            to_number=lead.phone_e164,
            caller_id=plan.caller_id,
            ring_timeout_s=plan.ring_timeout_s,
            caller_name=plan.caller_name,
            amd=plan.amd,
            voicemail_wav=plan.voicemail_wav,
            locale=plan.locale,
        )
        try:
            await self.carrier.originate(request, self.on_progress)
        except (CarrierError, OSError) as exc:
            log.warning("originate %s failed: %s", call.call_id, exc, extra=call.log_ids)
            self.on_progress(
                CallProgress(
                    call_id=call.call_id,
                    phase="ended",
                    at=self.clock(),
                    outcome="failed",
                    sip_reason=f"originate failed: {exc}"[:120],
                )
            )
        return call

    async def on_inbound(self, offer: InboundOffer) -> ProgressCallback | None:
        """A call to one of our numbers: answered when a campaign this dialer
        holds has it as its caller ID; the caller is then a waiting live
        answer like any other (the pacer sees it waiting and the agent who
        takes it as busy), given the campaign's inbound wait."""
        plan = next(
            (p for p in self._plans.values() if same_number(p.caller_id, offer.dialed)), None
        )
        if plan is None:
            log.info("inbound call %s: no campaign here has that number", offer.call_id)
            return None
        now = self.clock()
        lead = await asyncio.to_thread(
            self.services.open_inbound_call, offer.call_id, plan.id, offer.caller, now=now
        )
        if lead is None:
            return None
        call = LiveCall(
            call_id=offer.call_id, plan=plan, lead=lead, launched_at=self._now(), inbound=True
        )
        self.calls[call.call_id] = call
        log.info(
            "customer rang campaign %s back: call %s", plan.id, call.call_id, extra=call.log_ids
        )
        self.bus.publish(
            CallDialing(
                call_id=call.call_id,
                campaign_id=plan.id,
                lead_id=lead.lead_id,
                attempt=lead.attempt,
                dialer_id=self.services.dialer_id,
                occurred_at=now,
                phone_e164=lead.phone_e164,
                direction="inbound",
            )
        )
        return self.on_progress

    def on_progress(self, progress: CallProgress) -> None:
        """Carrier callback, on the loop: turn progress into events and actions."""
        call = self.calls.get(progress.call_id)
        if call is None or call.ended:
            return
        if progress.phase == "ringing":
            self.bus.publish(CallRinging(call_id=call.call_id))
        elif progress.phase == "answered":
            call.answered_at = self._now()
            self.bus.publish(CallAnswered(call_id=call.call_id, **amd_fields(progress.amd)))
            if call.plan.recording != "off" and call.plan.recording_consent:
                call.notice_playing = True
                self._spawn(self._notice_then_offer(call))
            else:
                self._offer(call)
        elif progress.phase == "ended":
            call.ended = True
            self._spawn(self._finish(call, progress))

    # connecting answers to agents ----------------------------------------------------------

    def _offer(self, call: LiveCall) -> None:
        call.offered_at = self._now()
        if call.preview_agent is not None:
            call.connecting = True
            call.connect_task = self._spawn(self._connect(call, call.preview_agent))
        else:
            self._wait_for_agent(call)

    async def _notice_then_offer(self, call: LiveCall) -> None:
        """The recording notice to the customer, then on to an agent."""
        try:
            uploaded = await self._uploaded_notice(call.plan.consent_wav_key)
            shipped = consent_wav(call.plan.locale)
            for wav in dict.fromkeys((uploaded, call.plan.consent_wav, shipped)):
                if wav is None:
                    continue
                try:
                    await self.carrier.play_prompt(call.call_id, wav)
                except CarrierError as exc:
                    log.warning(
                        "recording notice %s not played to %s: %s",
                        wav,
                        call.call_id,
                        exc,
                        extra=call.log_ids,
                    )
                    if call.ended:
                        return
                    continue
                call.consent_played = True
                break
        finally:
            call.notice_playing = False
        if not call.ended:
            self._offer(call)

    async def _uploaded_notice(self, key: str | None) -> str | None:
        """The campaign's uploaded notice as a file here (fetched once from the store)."""
        if key is None or self.consent_prompts is None:
            return None
        return await asyncio.to_thread(self.consent_prompts.local_path, key)

    def _wait_for_agent(self, call: LiveCall, *, first: bool = False) -> None:
        """Queue a live answer for the next ready agent (`first`: ahead of the
        others, it was taken out of the queue once); the abandon message when
        none took it within the abandon window of its answer."""
        queue = self._waiting[call.plan.id]
        if first:
            queue.appendleft(call.call_id)
        else:
            queue.append(call.call_id)
        self._spawn(self._abandon_unless_taken(call))
        self._spawn(self.serve_waiting())
        self._ensure_watcher()

    async def serve_waiting(self) -> None:
        """Give each waiting live answer (oldest first) the longest-idle ready agent."""
        assert self._serve_lock is not None
        async with self._serve_lock:
            for campaign_id, queue in self._waiting.items():
                while queue:
                    call = self.calls.get(queue[0])
                    if call is None or not call.waiting:
                        queue.popleft()
                        continue
                    agent_id = await self._claim_agent(campaign_id, call.call_id)
                    if agent_id is None:
                        break
                    queue.popleft()
                    if not call.waiting:  # ended or abandoned while the claim was made
                        await self._let_go(agent_id, "call gone before connect")
                        continue
                    call.connecting = True
                    call.connect_task = self._spawn(self._connect(call, agent_id))

    async def _claim_agent(self, campaign_id: int, call_id: str) -> int | None:
        """Pop agents until the database agrees one is still ready."""
        while (agent_id := await asyncio.to_thread(self.pool.claim, campaign_id)) is not None:
            self._claimed.add(agent_id)
            try:
                ok = await asyncio.to_thread(
                    self.services.reserve_agent,
                    agent_id,
                    call_id=call_id,
                    now=self.clock(),
                    reason="live answer",
                )
            except Exception:
                log.exception("reserving agent %s failed", agent_id)
                ok = False
            finally:
                self._claimed.discard(agent_id)
            if ok:
                return agent_id
        return None

    async def _connect(self, call: LiveCall, agent_id: int) -> None:
        """Bridge the answer into the agent's phone leg; never to nothing."""
        call.agent_id = agent_id
        try:
            leg = self.legs.up(agent_id)
            bridged = leg is not None and await self._bridge(call, leg)
            if call.ended:
                return  # _finish lets the agent go
            if leg is not None and self.legs.up(agent_id) is not leg:
                leg = None  # it dropped meanwhile
            if leg is None or not bridged:
                if leg is not None:  # up as far as we know, yet nothing can be bridged into it
                    self.legs.drop(leg, "phone leg could not be bridged")
                await self._no_phone_at_connect(call, agent_id)
                return
            call.connected_at = self._now()
            if call.plan.recording == "all":
                self._start_recording(call, "campaign")
            # The calls service moves the agent on_call and pops their screen.
            self.bus.publish(CallConnected(call_id=call.call_id, agent_id=agent_id))
        finally:
            call.connecting = False

    async def _bridge(self, call: LiveCall, leg: AgentLeg) -> bool:
        try:
            await self.carrier.bridge(call.call_id, leg.leg_id)
        except CarrierError as exc:
            log.warning(
                "bridge %s to agent %s failed: %s",
                call.call_id,
                leg.agent_id,
                exc,
                extra={**call.log_ids, "agent_id": leg.agent_id},
            )
            return False
        return True

    async def _no_phone_at_connect(self, call: LiveCall, agent_id: int) -> None:
        """The claimed agent's phone is not up: they go to the phone_lost
        pause and the answer waits for another agent (a preview's answer,
        which was dialed for that agent alone, gets the abandon message)."""
        log.warning(
            "agent %s has no phone leg up: call %s not connected to them",
            agent_id,
            call.call_id,
            extra={**call.log_ids, "agent_id": agent_id},
        )
        call.agent_id = None
        try:
            await asyncio.to_thread(
                self.services.phone_leg_lost,
                agent_id,
                None,
                reason="no phone leg up when a call came",
                now=self.clock(),
            )
            await self._let_go(agent_id, "phone lost")
        except Exception:
            log.exception("agent %s not let go after their phone was lost", agent_id)
        call.connecting = False
        if call.ended:
            return
        if call.preview_agent is not None:
            await self._abandon(call)
        else:
            self._wait_for_agent(call, first=True)

    def _phone_lost(self, leg: AgentLeg, reason: str) -> None:
        """An agent's leg failed or dropped: a call connected to it is ended
        (the agent still wraps it up), a preview lead shown to them goes back."""
        for call in self.calls.values():
            if call.agent_id == leg.agent_id and call.connected_at is not None and not call.ended:
                call.end_reason = f"agent {reason}"[:120]
                self._spawn(self.carrier.hang_up(call.call_id))
        offer = self.previews.pop(leg.agent_id, None)
        if offer is not None:
            self.leads.give_back(offer.held)

    async def _abandon_unless_taken(self, call: LiveCall) -> None:
        offered_at = call.offered_at if call.offered_at is not None else call.answered_at
        assert offered_at is not None
        window = call.plan.inbound_wait_s if call.inbound else self.config.abandon_after_s
        await asyncio.sleep(max(0.0, offered_at + window - self._now()))
        if not call.waiting or call.connecting:
            return
        await self._abandon(call)

    async def _abandon(self, call: LiveCall) -> None:
        call.abandoning = True
        log.info("call %s: no agent to take it, abandon message", call.call_id, extra=call.log_ids)
        if call.inbound:
            await self._ring_back_later(call)
            return
        try:
            await self.carrier.play_and_hang_up(call.call_id)
        except CarrierError as exc:  # it ended meanwhile
            log.debug(
                "abandon message for %s not played: %s", call.call_id, exc, extra=call.log_ids
            )

    async def _ring_back_later(self, call: LiveCall) -> None:
        """The caller hears that we will call them back (the calls service
        books the callback when the call ends unanswered by an agent)."""
        try:
            await self.carrier.play_prompt(call.call_id, ringback_wav(call.plan.locale))
        except CarrierError as exc:
            log.info(
                "ring-back message not played to %s: %s", call.call_id, exc, extra=call.log_ids
            )
        call.end_reason = "no agent free: callback booked"
        await self.carrier.hang_up(call.call_id)

    def _ensure_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = self._spawn(self._watch_waiting())

    async def _watch_waiting(self) -> None:
        """While answers wait, re-read the agents more often than once a tick."""
        while any(call.waiting for call in self.calls.values()):
            await asyncio.sleep(self.config.agent_poll_s)
            await self.refresh_agents()

    async def _let_go(self, agent_id: int, reason: str) -> None:
        await asyncio.to_thread(
            self.services.release_agent, agent_id, now=self.clock(), reason=reason
        )

    # recording ------------------------------------------------------------------------------

    def _start_recording(self, call: LiveCall, trigger: str) -> None:
        """Record the bridged call from now to its hang-up. Whatever goes wrong
        here (no recorder, disk full, no media) is the recording's failure,
        never the call's."""
        if call.recording is not None or call.ended:
            return
        if self.recorder is None:
            log.warning(
                "call %s: recording asked for, no recorder", call.call_id, extra=call.log_ids
            )
            return
        self.bus.publish(
            RecordingStarted(
                call_id=call.call_id,
                campaign_id=call.plan.id,
                trigger=trigger,
                consent_played=call.consent_played,
            )
        )
        recording = self.recorder.open(
            call.call_id, call.plan.id, self.clock(), self._recording_done
        )
        call.recording = recording
        try:
            self.carrier.record(call.call_id, recording)
        except CarrierError as exc:
            recording.fail(f"no call audio: {exc}")
            recording.finish()

    def _recording_done(self, outcome: RecordingOutcome) -> None:
        """From the recorder's threads: recording.finished goes out from the loop."""
        event = RecordingFinished(**vars(outcome))
        loop = self._loop
        if loop is None or loop.is_closed():
            self.bus.publish(event)
        else:
            loop.call_soon_threadsafe(self.bus.publish, event)

    def _retry_uploads_when_due(self) -> None:
        """Every `upload_retry_every_s`, in a thread, one pass at a time."""
        if self.recorder is None:
            return
        mono = self._now()
        if self._uploads_checked_at is not None and (
            mono - self._uploads_checked_at < self.config.upload_retry_every_s
        ):
            return
        if self._retrying_uploads is not None and not self._retrying_uploads.done():
            return
        self._uploads_checked_at = mono
        self._retrying_uploads = self._spawn(
            asyncio.to_thread(self.recorder.retry_uploads, self._recording_done)
        )

    def _recording_requested(self, event: RecordingRequested) -> None:
        call = self.calls.get(event.call_id)
        if call is None or call.connected_at is None or call.plan.recording == "off":
            log.info(
                "recording of %s asked for by user %s: no connected call that may be recorded",
                event.call_id,
                event.requested_by,
                extra={"call_id": event.call_id},
            )
            return
        self._start_recording(call, event.trigger)

    # the end of a call ----------------------------------------------------------------------

    async def _finish(self, call: LiveCall, progress: CallProgress) -> None:
        self.transfers.on_call_ended(call)
        if call.connect_task is not None:
            await asyncio.wait([call.connect_task])
        await self.monitors.call_ended(call.call_id)
        connected = call.connected_at is not None
        outcome = outcome_of_ended(
            progress.outcome, answered=call.answered_at is not None, connected=connected
        )
        # The calls service writes the row and, when no agent had the call,
        # settles the lead by this outcome (lead_lifecycle.settle_attempt).
        self.bus.publish(
            CallEnded(
                call_id=call.call_id,
                outcome=outcome,
                sip_status=progress.sip_status,
                sip_reason=call.end_reason or progress.sip_reason,
                agent_id=call.agent_id if connected else None,
                talk_seconds=(
                    self._now() - call.connected_at if call.connected_at is not None else None
                ),
                answered_seconds=(
                    (progress.at - progress.amd.answered_at).total_seconds()
                    if progress.amd is not None
                    else None
                ),
                **amd_fields(progress.amd),
            )
        )
        self._record_outcome(call, progress.outcome or "failed")
        log.info("call %s ended: %s", call.call_id, outcome, extra=call.log_ids)
        try:
            if connected and call.agent_id is not None and call.connected_at is not None:
                self._talk[call.agent_id] = self._now() - call.connected_at
            elif call.agent_id is not None and call.preview_agent is None:
                await self._let_go(call.agent_id, "call ended before connect")
        finally:
            self.calls.pop(call.call_id, None)

    def _record_outcome(self, call: LiveCall, carrier_outcome: str) -> None:
        pacing = self.pacing.get(call.plan.id)
        if pacing is None or call.inbound:  # not a dial: nothing for the answer estimates
            return
        result = _RESULTS.get(carrier_outcome, CallResult.FAILED)
        if result is CallResult.LIVE and call.answered_at is not None:
            seconds = call.answered_at - call.launched_at
        else:
            seconds = self._now() - call.launched_at
        pacing.outcomes.append(CallOutcome(result=result, seconds=max(0.0, seconds)))

    # preview --------------------------------------------------------------------------------

    async def _preview_tick(self, plan: CampaignPlan, healthy: bool) -> None:
        timeout = plan.preview_timeout_s
        for offer in list(self.previews.values()):
            if offer.campaign_id != plan.id:
                continue
            if timeout is not None and self._now() - offer.offered_at >= timeout:
                log.info(
                    "preview of lead %s timed out: dialing it",
                    offer.lead_id,
                    extra={"lead_id": offer.lead_id, "agent_id": offer.agent_id},
                )
                await self._dial_preview(offer.agent_id, offer.lead_id)
        if not healthy:
            return
        while (room := self.trunk_room()) is None or room > len(self.previews):
            agent_id = self.pool.claim(plan.id)
            if agent_id is None:
                return
            held = await asyncio.to_thread(
                self.leads.hold, plan.id, agent_id=agent_id, now=self.clock()
            )
            if held is None:
                return  # the agent goes back into the pool on the next refresh
            self.previews[agent_id] = PreviewOffer(agent_id, held, self._now())
            # The workstation reserves the agent and shows them the lead.
            self.bus.publish(
                PreviewOffered(agent_id=agent_id, campaign_id=plan.id, lead_id=held.lead_id)
            )

    def _drop_stale_previews(self) -> None:
        """Offers the workstation never took up (the agent paused or left first)."""
        for offer in list(self.previews.values()):
            agent = self._agents.get(offer.agent_id)
            taken_up = agent is not None and agent.phase is AgentPhase.RESERVED
            age = self._now() - offer.offered_at
            if agent is None or (not taken_up and age >= self.config.stale_preview_s):
                log.info(
                    "preview of lead %s to agent %s withdrawn",
                    offer.lead_id,
                    offer.agent_id,
                    extra={"lead_id": offer.lead_id, "agent_id": offer.agent_id},
                )
                del self.previews[offer.agent_id]
                self.leads.give_back(offer.held)

    async def _withdraw(self, offer: PreviewOffer, reason: str) -> None:
        self.previews.pop(offer.agent_id, None)
        self.leads.give_back(offer.held)
        await self._let_go(offer.agent_id, reason)

    async def on_agent_request(self, event: Event) -> None:
        if isinstance(event, PreviewCallRequested):
            await self._dial_preview(event.agent_id, event.lead_id)
        elif isinstance(event, PreviewSkipped):
            offer = self.previews.get(event.agent_id)
            if offer is not None and offer.lead_id == event.lead_id:
                # The workstation has already made the agent ready again.
                del self.previews[event.agent_id]
                self.leads.give_back(offer.held)
        elif isinstance(event, RecordingRequested):
            self._recording_requested(event)
        elif isinstance(event, CallHangupRequested):
            call = self.calls.get(event.call_id)
            if call is not None and not call.ended:
                await self.carrier.hang_up(event.call_id)
        elif isinstance(event, ManualDialRequested):
            await self._dial_manual(event)
        elif isinstance(event, TransferRequested):
            await self.transfers.on_request(event)
        elif isinstance(event, TransferActionRequested):
            await self.transfers.on_action(event)
        elif isinstance(event, MonitorRequested | MonitorModeChanged | MonitorStopRequested):
            await self._monitor_request(event)

    async def _monitor_request(
        self, event: MonitorRequested | MonitorModeChanged | MonitorStopRequested
    ) -> None:
        """A supervisor's listen/whisper/barge: for the dialer that holds the call."""
        call = self.calls.get(event.call_id)
        if call is None or call.ended:
            if event.passed_on < MANUAL_DIAL_PASSES:
                # Dialers share one consumer group: the call may be another's.
                self.bus.publish(dataclasses.replace(event, passed_on=event.passed_on + 1))
            elif isinstance(event, MonitorRequested):
                self.bus.publish(
                    MonitorEnded(
                        session_id=event.session_id, call_id=event.call_id, reason="call_ended"
                    )
                )
            return
        if isinstance(event, MonitorRequested):
            await self.monitors.request(event)
        elif isinstance(event, MonitorModeChanged):
            await self.monitors.change_mode(event)
        else:
            await self.monitors.stop(event)

    async def _dial_manual(self, event: ManualDialRequested) -> None:
        """The workstation has checked the number and holds the agent for it;
        the call is placed for them alone, as a preview call is, and runs
        through the same screen pop and wrap-up."""
        ids = {"lead_id": event.lead_id, "agent_id": event.agent_id}
        plan = self._plans.get(event.campaign_id)
        if plan is None and event.passed_on < MANUAL_DIAL_PASSES:
            # Dialers share one consumer group: the one holding the campaign
            # may be another; the request goes round again for it.
            self.bus.publish(dataclasses.replace(event, passed_on=event.passed_on + 1))
            return
        if plan is None or self.held_reason is not None or self.trunk_room() == 0:
            log.info(
                "manual dial for agent %s not placed: not dialable now", event.agent_id, extra=ids
            )
            await self._let_go(event.agent_id, "manual dial not placed")
            return
        claimed = await asyncio.to_thread(
            self.leads.claim_manual, event.lead_id, event.phone_e164, now=self.clock()
        )
        if claimed is None:
            await self._let_go(event.agent_id, "manual dial refused at dial time")
            return
        log.info("dialing lead %s by hand for agent %s", event.lead_id, event.agent_id, extra=ids)
        await self.place_call(plan, claimed, agent_id=event.agent_id, manual=True)

    async def _dial_preview(self, agent_id: int, lead_id: int) -> None:
        offer = self.previews.get(agent_id)
        if offer is None or offer.lead_id != lead_id:
            log.info(
                "preview call for lead %s by agent %s: no such offer",
                lead_id,
                agent_id,
                extra={"lead_id": lead_id, "agent_id": agent_id},
            )
            return
        plan = self._plans.get(offer.campaign_id)
        if plan is None or self.held_reason is not None:
            await self._withdraw(offer, "preview not dialable now")
            return
        del self.previews[agent_id]
        claimed = await asyncio.to_thread(self.leads.claim_held, offer.held, now=self.clock())
        if claimed is None:
            await self._let_go(agent_id, "preview lead refused at dial time")
            return
        await self.place_call(plan, claimed, agent_id=agent_id)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()
