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

This module is the composition root: it wires the worker's parts, runs the
tick, keeps the campaigns held and the agents read, and routes the carrier's
progress. The parts, each with one job:

* :mod:`dialer.campaign_pacing` – pacers and their launches, own callbacks;
* :mod:`dialer.launcher` – placing a call, taking an inbound one;
* :mod:`dialer.call_rate` – the trunk's limit on new calls a second;
* :mod:`dialer.connector` – an answer to an agent, waiting, abandon, ring-back;
* :mod:`dialer.agent_roster` – the agents as read, the ready pool, claims;
* :mod:`dialer.previews` – preview offers;
* :mod:`dialer.agent_requests` – what agents and supervisors ask over the bus;
* :mod:`dialer.call_recording` – recordings and upload retries;
* :mod:`dialer.floor_reports` – trunk health and status, hopper depths;
* :mod:`dialer.call_rules` and :mod:`dialer.live_calls` – pure rules, the calls up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callcenter.bus import EventBus
from callcenter.db import utcnow
from callcenter.events import CallAnswered, CallEnded, CallRinging, Event
from dialer.agent_legs import AgentLeg, AgentLegs
from dialer.agent_pool import AgentPool
from dialer.agent_requests import MANUAL_DIAL_PASSES, REQUESTS, AgentRequests
from dialer.agent_roster import AgentRoster
from dialer.call_rate import CallRate
from dialer.call_recording import RecordingDesk
from dialer.call_rules import amd_fields, outcome_of_ended
from dialer.campaign_pacing import CampaignPacers
from dialer.carrier import CallProgress, Carrier
from dialer.connector import AnswerConnector
from dialer.consent_prompts import ConsentPromptCache
from dialer.floor_reports import FloorReports
from dialer.launcher import CallLauncher
from dialer.live_calls import LiveCall, LiveCalls, loop_time
from dialer.monitor_legs import MonitorLegs
from dialer.pacing import AbandonTally, Pacer, PacerState
from dialer.ports import CampaignPlan, ClaimedLead, DialerServices, LeadSource, Mode
from dialer.previews import PreviewDesk
from dialer.publisher import OffLoopPublisher
from dialer.recordings import CallRecorder
from dialer.transfers import TransferDesk

__all__ = [
    "MANUAL_DIAL_PASSES",
    "DialerWorker",
    "LiveCall",
    "WorkerConfig",
    "outcome_of_ended",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    tick_s: float = 1.0
    abandon_after_s: float = 2.0
    """A live answer no agent took within this long gets the abandon message."""
    agent_poll_s: float = 0.25
    """How often ready agents are re-read while live answers wait for one."""
    max_concurrent_calls: int | None = None
    """The trunk's limit on customer calls up at once (None: no limit)."""
    max_calls_per_second: float = 0.0
    """The trunk's limit on new customer calls a second, this dialer's share of
    it (0: no limit); at most one second's worth start at once."""
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
        call_rate: CallRate | None = None,
    ) -> None:
        """`call_rate`: by default `config.max_calls_per_second` on the loop's clock."""
        self.services = services
        self.leads = leads
        self.carrier = carrier
        self.bus = bus
        self.pool = pool
        self.config = config = config or WorkerConfig()
        self.clock = clock
        self.calls = LiveCalls()
        self.call_rate = call_rate or CallRate(config.max_calls_per_second, clock=loop_time)
        self.ticked_at: float | None = None  # time.monotonic() after the last tick (liveness)
        self._plans: dict[int, CampaignPlan] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refilled_at: float | None = None
        self._subscribed = False
        self._refresh_lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.legs = AgentLegs(
            carrier=carrier,
            services=services,
            spawn=self._spawn,
            clock=clock,
            on_lost=self._phone_lost,
            extension_domain=config.extension_domain,
        )
        self.roster = AgentRoster(services=services, pool=pool, legs=self.legs, clock=clock)
        self.reports = FloorReports(
            services=services,
            leads=leads,
            carrier=carrier,
            bus=bus,
            monotonic=loop_time,
            trunk_name=config.trunk_name,
            trunk_status_every_s=config.trunk_status_every_s,
        )
        self.launcher = CallLauncher(
            services=services,
            carrier=carrier,
            bus=bus,
            calls=self.calls,
            call_rate=self.call_rate,
            plans=lambda: self._plans.values(),
            on_progress=self.on_progress,
            clock=clock,
            monotonic=loop_time,
        )
        self.recording = RecordingDesk(
            recorder=recorder,
            carrier=carrier,
            bus=bus,
            calls=self.calls,
            spawn=self._spawn,
            clock=clock,
            monotonic=loop_time,
        )
        self.previews = PreviewDesk(
            leads=leads,
            pool=pool,
            bus=bus,
            roster=self.roster,
            place_call=self.launcher.place_call,
            plan_of=self._plans_get,
            dialing_held=self.reports.dialing_held,
            trunk_room=self.trunk_room,
            clock=clock,
            monotonic=loop_time,
            spawn=self._spawn,
            stale_after_s=config.stale_preview_s,
        )
        self.pacers = CampaignPacers(
            services=services,
            leads=leads,
            bus=bus,
            calls=self.calls,
            roster=self.roster,
            legs=self.legs,
            place_call=self.launcher.place_call,
            place_calls=self.launcher.place_calls,
            offered=self.previews.offered,
            pacer_factory=pacer_factory,
            clock=clock,
            monotonic=loop_time,
            max_concurrent_calls=config.max_concurrent_calls,
            call_rate=self.call_rate,
        )
        self.pacing = self.pacers.by_campaign
        self.connector = AnswerConnector(
            services=services,
            carrier=carrier,
            bus=bus,
            calls=self.calls,
            roster=self.roster,
            legs=self.legs,
            record=self.recording.record,
            refresh_agents=self.refresh_agents,
            spawn=self._spawn,
            consent_prompts=consent_prompts,
            clock=clock,
            monotonic=loop_time,
            abandon_after_s=config.abandon_after_s,
            agent_poll_s=config.agent_poll_s,
        )
        self.transfers = TransferDesk(
            calls=self.calls, carrier=carrier, bus=bus, legs=self.legs, spawn=self._spawn
        )
        self.monitors = MonitorLegs(
            carrier=carrier,
            publish=bus.publish,
            spawn=self._spawn,
            extension_domain=config.extension_domain,
        )
        self.requests = AgentRequests(
            leads=leads,
            carrier=carrier,
            bus=bus,
            calls=self.calls,
            roster=self.roster,
            previews=self.previews,
            recording=self.recording,
            transfers=self.transfers,
            monitors=self.monitors,
            place_call=self.launcher.place_call,
            plan_of=self._plans_get,
            dialing_held=self.reports.dialing_held,
            trunk_room=self.trunk_room,
            clock=clock,
        )

    @property
    def placed(self) -> int:
        """Calls placed since the start."""
        return self.launcher.placed

    @property
    def held_reason(self) -> str | None:
        return self.reports.held_reason

    @property
    def recorder(self) -> CallRecorder | None:
        return self.recording.recorder

    @recorder.setter
    def recorder(self, recorder: CallRecorder | None) -> None:
        self.recording.recorder = recorder

    @property
    def consent_prompts(self) -> ConsentPromptCache | None:
        return self.connector.consent_prompts

    @consent_prompts.setter
    def consent_prompts(self, prompts: ConsentPromptCache | None) -> None:
        self.connector.consent_prompts = prompts

    def _plans_get(self, campaign_id: int) -> CampaignPlan | None:
        return self._plans.get(campaign_id)

    # lifecycle ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Start the carrier, recover, tick until `stop` is set, then wind down."""
        await self.start()
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    await self.tick()
                except Exception:
                    log.exception("dialer tick failed; trying again next tick")
                self.ticked_at = time.monotonic()
                # A tick every tick_s, not tick_s after each: the pacer's calls a
                # second and its view of the floor assume the cadence.
                wait = max(0.0, self.config.tick_s - (self.ticked_at - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        finally:
            await self.shutdown()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._refresh_lock = asyncio.Lock()
        self.connector.start()
        # Before the carrier listens: a customer ringing back is never declined
        # for want of a handler (until the first tick holds the campaigns, the
        # number is not ours yet: 404).
        self.carrier.take_inbound(self.launcher.on_inbound)
        await self.carrier.start()
        self.recording.start()
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
        for event_type in REQUESTS:
            self.bus.subscribe(event_type.TYPE, self._from_bus)

    def _from_bus(self, event: Event) -> None:
        """Agent requests arrive on the bus's own thread; hand them to the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._spawn, self.on_agent_request(event))

    async def on_agent_request(self, event: Event) -> None:
        await self.requests.handle(event)

    async def shutdown(self) -> None:
        await self.previews.withdraw_all("dialer stopped")
        self.connector.stop()
        up = len(self.calls.up())
        self.legs.stopping = True
        await self.carrier.stop()  # ends every call; their `ended` progress is reported
        for _ in range(3):
            pending = [task for task in self._tasks if not task.done()]
            if not pending:
                break
            await asyncio.wait(pending, timeout=10)
        await self.recording.stop()
        try:
            await asyncio.to_thread(self.services.sign_off, now=self.clock())
        except Exception:
            log.exception("signing off failed: the campaigns go free when their leases expire")
        if isinstance(self.bus, OffLoopPublisher):
            await self.bus.drain()
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
        healthy = self.reports.check_health()
        await self.reports.report_trunk_status(now)
        before = set(self._plans)
        plans = await self.load_campaigns()
        taken_up = [plan.id for plan in plans if plan.id not in before]
        if taken_up:
            # A hopper left by a lost dialer may hold leases nobody will finish.
            await asyncio.to_thread(self.leads.rebuild, taken_up, now=now)
        mono = loop_time()
        if self._refilled_at is None or mono - self._refilled_at >= self.config.refill_every_s:
            held = [plan.id for plan in plans]
            await asyncio.to_thread(self.leads.refill, held, now=now)
            self.pacers.hopper_refilled()
            if self._refilled_at is not None:
                self.reports.say_again()
            self._refilled_at = mono
            summary = await asyncio.to_thread(self.services.recover_lost_work, held, now=now)
            if summary:
                log.warning("recovered what lost dialers left open: %s", summary)
        swept = await asyncio.to_thread(self.services.sweep_floor, now=now)
        if swept:
            log.info("floor sweep: %s", swept)
        await self.refresh_agents()
        in_turn = iter(self.pacers.take_turns([p for p in plans if p.mode is not Mode.PREVIEW]))
        # Previews keep their places; the paced campaigns take theirs in turn.
        served = [plan if plan.mode is Mode.PREVIEW else next(in_turn) for plan in plans]
        paced = sum(1 for plan in served if plan.mode is not Mode.PREVIEW)
        for plan in served:
            if plan.mode is Mode.PREVIEW:
                await self.previews.tick(plan, healthy)
            else:
                await self.pacers.pace(plan, now, healthy, sharing=paced)
                paced -= 1
            await self.reports.report_hopper_depth(plan.id)
        self.recording.retry_uploads_when_due(self.config.upload_retry_every_s)

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

    async def refresh_agents(self) -> None:
        """Re-read the agents, keep their phone legs, and offer the ready ones
        whose leg is up (and who are not claimed here) in the pool."""
        assert self._refresh_lock is not None
        async with self._refresh_lock:
            snapshot = await asyncio.to_thread(self.services.agents)
            await self.legs.keep(snapshot, self._serving())
            self.pacers.observe_wrap_ups(snapshot)
            self.roster.replace(snapshot)
            await self.previews.drop_stale()
            await self.roster.offer_ready(self._serving(), offered=self.previews.offered)
        if self.calls.any_waiting():
            self._spawn(self.connector.serve_waiting())

    def _serving(self) -> set[int]:
        """The campaigns this dialer connects answers for: a paused campaign
        still connects the answers of the calls it has up."""
        return set(self._plans) | self.calls.campaigns()

    def pacer_state(
        self, plan: CampaignPlan, today: AbandonTally, window: AbandonTally
    ) -> PacerState:
        return self.pacers.pacer_state(plan, today, window)

    def trunk_room(self) -> int | None:
        return self.calls.trunk_room(self.config.max_concurrent_calls)

    async def place_call(
        self,
        plan: CampaignPlan,
        lead: ClaimedLead,
        *,
        agent_id: int | None = None,
        manual: bool = False,
    ) -> LiveCall:
        return await self.launcher.place_call(plan, lead, agent_id=agent_id, manual=manual)

    # a call's progress ----------------------------------------------------------------------

    def on_progress(self, progress: CallProgress) -> None:
        """Carrier callback, on the loop: turn progress into events and actions."""
        call = self.calls.get(progress.call_id)
        if call is None or call.ended:
            return
        if progress.phase == "ringing":
            self.bus.publish(CallRinging(call_id=call.call_id))
        elif progress.phase == "answered":
            call.answered_at = loop_time()
            self.bus.publish(CallAnswered(call_id=call.call_id, **amd_fields(progress.amd)))
            self.connector.answered(call)
        elif progress.phase == "ended":
            call.ended = True
            self._spawn(self._finish(call, progress))

    def _phone_lost(self, leg: AgentLeg, reason: str) -> None:
        """An agent's leg failed or dropped: a call connected to it is ended
        (the agent still wraps it up), a preview lead shown to them goes back."""
        self.connector.phone_lost(leg, reason)
        self.previews.phone_lost(leg.agent_id)

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
                    loop_time() - call.connected_at if call.connected_at is not None else None
                ),
                answered_seconds=(
                    (progress.at - progress.amd.answered_at).total_seconds()
                    if progress.amd is not None
                    else None
                ),
                **amd_fields(progress.amd),
            )
        )
        self.pacers.call_ended(call, progress.outcome or "failed")
        log.info("call %s ended: %s", call.call_id, outcome, extra=call.log_ids)
        try:
            if not connected and call.agent_id is not None and call.preview_agent is None:
                await self.roster.let_go(call.agent_id, "call ended before connect")
        finally:
            self.calls.pop(call.call_id, None)
