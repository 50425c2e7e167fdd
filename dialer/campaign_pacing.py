"""Predictive and progressive dialing: each campaign's pacer is shown what it
can observe (agents, calls in flight, waiting answers, recent outcomes and
service times, abandon tallies) and what it decides is placed, after the
callbacks ready agents booked for themselves."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from callcenter.bus import EventBus
from callcenter.events import PacerLevelChanged
from dialer.agent_legs import AgentLegs
from dialer.agent_roster import AgentRoster
from dialer.call_rate import CallRate
from dialer.call_rules import PACER_RESULTS, PACER_STATUS, launches_allowed
from dialer.launcher import PlaceCall
from dialer.live_calls import LiveCall, LiveCalls
from dialer.pacing import (
    AbandonTally,
    AgentStatus,
    AgentView,
    CallOutcome,
    CallResult,
    DialMode,
    Pacer,
    PacerState,
    ServiceRecord,
)
from dialer.ports import (
    AgentPhase,
    AgentSnapshot,
    CampaignPlan,
    ClaimedLead,
    DialerServices,
    LeadSource,
)

log = logging.getLogger(__name__)

RATE_NOTICE_EVERY_S = 60.0
"""Calls held back by the trunk's calls a second are logged at most this often per campaign."""


@dataclass
class CampaignPacing:
    pacer: Pacer
    outcomes: list[CallOutcome] = field(default_factory=list)
    services: list[ServiceRecord] = field(default_factory=list)


class CampaignPacers:
    def __init__(
        self,
        *,
        services: DialerServices,
        leads: LeadSource,
        bus: EventBus,
        calls: LiveCalls,
        roster: AgentRoster,
        legs: AgentLegs,
        place_call: PlaceCall,
        place_calls: Callable[[CampaignPlan, Sequence[ClaimedLead]], Awaitable[None]],
        offered: Callable[[int], bool],
        pacer_factory: Callable[[], Pacer],
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        max_concurrent_calls: int | None,
        call_rate: CallRate,
    ) -> None:
        self.services = services
        self.leads = leads
        self.bus = bus
        self.calls = calls
        self.roster = roster
        self.legs = legs
        self._place_call = place_call
        self._place_calls = place_calls
        self._offered = offered
        self._pacer_factory = pacer_factory
        self.clock = clock
        self._now = monotonic
        self.max_concurrent_calls = max_concurrent_calls
        self.call_rate = call_rate
        self._rate_said: dict[int, float] = {}
        self._turn_order: list[int] = []
        self._placed_this_turn: Counter[int] = Counter()
        self.by_campaign: dict[int, CampaignPacing] = {}
        self._talk: dict[int, float] = {}
        self._found_dry: set[int] = set()
        """Campaigns a refill in the middle of a tick found nothing for: not
        refilled that way again before the worker's next regular refill."""

    def trunk_room(self) -> int | None:
        return self.calls.trunk_room(self.max_concurrent_calls)

    def take_turns(self, plans: Sequence[CampaignPlan]) -> list[CampaignPlan]:
        """The campaigns to pace this tick, in the order they are served.

        Under a calls-a-second limit the first served gets the odd call of a
        scarce room (each takes its share rounded up), so those given fewer
        calls the tick before go first, ties in the last tick's order: the odd
        call goes to each in turn. Without a limit, as listed."""
        placed, self._placed_this_turn = self._placed_this_turn, Counter()
        if not self.call_rate.limited:
            return list(plans)
        before = {campaign_id: place for place, campaign_id in enumerate(self._turn_order)}
        ordered = sorted(plans, key=lambda plan: (placed[plan.id], before.get(plan.id, -1)))
        self._turn_order = [plan.id for plan in ordered]
        return ordered

    async def pace(
        self, plan: CampaignPlan, now: datetime, healthy: bool, *, sharing: int = 1
    ) -> None:
        """`sharing`: the campaigns still to be paced this tick, this one
        included; each takes its share of the trunk's calls a second (a share
        one leaves is there for the next)."""
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
        wanted = launches_allowed(decision, healthy=healthy, trunk_room=self.trunk_room())
        launches = self._within_rate(plan, wanted, sharing)
        # Only as many leads are claimed as are dialed now: the rest wait in the hopper.
        if launches > 0:
            leads = await asyncio.to_thread(self._claim_leads, plan.id, launches)
            self._placed_this_turn[plan.id] += len(leads)
            await self._place_calls(plan, leads)

    def _claim_leads(self, campaign_id: int, count: int) -> list[ClaimedLead]:
        """From a thread: `count` leads, the hopper refilled from the database
        first if it runs dry (at a high rate it empties between the worker's
        refills: 500 leads every 10 s is 50 calls a second)."""
        now = self.clock()
        leads = self.leads.next_leads(campaign_id, count, now=now)
        if len(leads) < count and campaign_id not in self._found_dry:
            self.leads.refill([campaign_id], now=now)
            more = self.leads.next_leads(campaign_id, count - len(leads), now=now)
            if not more:
                # A campaign out of dialable leads with agents ready asked the
                # database for them every tick; the regular refill looks again.
                self._found_dry.add(campaign_id)
            leads += more
        return leads

    def hopper_refilled(self) -> None:
        """The worker refilled every hopper: a dry one may be refilled mid-tick again."""
        self._found_dry.clear()

    def _within_rate(self, plan: CampaignPlan, wanted: int, sharing: int) -> int:
        """Of the calls wanted, those this campaign's share of the trunk's calls
        a second lets start now; calls held back are logged (once a minute)."""
        room = self.call_rate.room()
        if room is None:
            return wanted
        launches = min(wanted, -(-room // max(1, sharing)))  # the share rounded up
        if launches == wanted:
            return wanted
        mono = self.call_rate.clock()
        said = self._rate_said.get(plan.id)
        if said is None or mono - said >= RATE_NOTICE_EVERY_S:
            self._rate_said[plan.id] = mono
            log.info(
                "campaign %s: %d of %d calls held back by the trunk's limit of %g calls "
                "a second (said at most once a minute)",
                plan.id,
                wanted - launches,
                wanted,
                self.call_rate.per_second,
                extra={"campaign_id": plan.id},
            )
        return launches

    def pacer_state(
        self, plan: CampaignPlan, today: AbandonTally, window: AbandonTally
    ) -> PacerState:
        now = self.clock()
        mono = self._now()
        pacing = self._pacing(plan.id)
        up = self.calls.up()
        # Asked once, not for each agent: a scan of every call up per ready agent.
        dialing_for = {c.preview_agent for c in up if c.preview_agent is not None}
        agents = [
            AgentView(
                status=self._pacer_status(agent, plan, dialing_for),
                elapsed=max(0.0, (now - agent.since).total_seconds()),
            )
            for agent in self.roster.of_campaign(plan.id)
        ]
        mine = [c for c in up if c.plan.id == plan.id]
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
            trunk_limit=self.calls.trunk_room(self.max_concurrent_calls, beside_campaign=plan.id),
        )

    def _pacer_status(
        self, agent: AgentSnapshot, plan: CampaignPlan, dialing_for: set[int]
    ) -> AgentStatus:
        """`dialing_for`: the agents a call placed for them alone is up for."""
        if agent.phase is AgentPhase.READY and (
            agent.agent_id in self.roster.claimed or agent.agent_id in dialing_for
        ):
            return AgentStatus.TALKING
        if agent.phase is AgentPhase.READY and self.legs.up(agent.agent_id) is None:
            return AgentStatus.PAUSED  # no calls are placed for a phone that is not up
        if agent.phase is AgentPhase.WRAP_UP and plan.wrap_up_limit_s is not None:
            wrapping = (self.clock() - agent.since).total_seconds()
            if wrapping >= plan.wrap_up_limit_s:
                return AgentStatus.PAUSED  # nobody is finishing it: the server pauses them
        return PACER_STATUS[agent.phase]

    async def _dial_own_callbacks(self, plan: CampaignPlan) -> None:
        """A ready agent with a callback booked for them alone gets it first,
        dialed for them (held for them as a preview call is); the pacer's
        general leads come after."""
        if not self._room_for_own_callbacks():
            return
        free = [
            agent.agent_id
            for agent in self.roster.of_campaign(plan.id)
            if agent.phase is AgentPhase.READY and self._free_for_own_callback(agent.agent_id)
        ]
        if not free:
            return
        with_callbacks = await asyncio.to_thread(self.leads.with_own_callbacks, plan.id, free)
        for agent_id in (agent_id for agent_id in free if agent_id in with_callbacks):
            if not self._room_for_own_callbacks():
                return
            if not self._free_for_own_callback(agent_id):  # claimed, offered, lost meanwhile
                continue
            self.roster.claimed.add(agent_id)
            try:
                await self._dial_own_callback(plan, agent_id)
            finally:
                self.roster.claimed.discard(agent_id)

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
            await self.roster.let_go(agent_id, "own callback gone")
            return
        log.info(
            "dialing lead %s's callback for agent %s",
            lead.lead_id,
            agent_id,
            extra={"lead_id": lead.lead_id, "agent_id": agent_id, "campaign_id": plan.id},
        )
        await self._place(plan, lead, agent_id=agent_id)

    async def _place(
        self, plan: CampaignPlan, lead: ClaimedLead, *, agent_id: int | None = None
    ) -> None:
        self._placed_this_turn[plan.id] += 1
        await self._place_call(plan, lead, agent_id=agent_id)

    def _room_for_own_callbacks(self) -> bool:
        """The trunk's limits leave room for a call (asked once, not per agent:
        the calls up are counted each time)."""
        return self.trunk_room() != 0 and self.call_rate.room() != 0

    def _free_for_own_callback(self, agent_id: int) -> bool:
        if agent_id in self.roster.claimed or self._offered(agent_id):
            return False
        return self.legs.up(agent_id) is not None

    def _pacing(self, campaign_id: int) -> CampaignPacing:
        if campaign_id not in self.by_campaign:
            self.by_campaign[campaign_id] = CampaignPacing(self._pacer_factory())
        return self.by_campaign[campaign_id]

    def call_ended(self, call: LiveCall, carrier_outcome: str) -> None:
        """What the call tells the pacer: its result and how long it took,
        and the talk time of the agent who had it (their service record is
        complete when they leave wrap-up)."""
        if call.connected_at is not None and call.agent_id is not None:
            self._talk[call.agent_id] = self._now() - call.connected_at
        pacing = self.by_campaign.get(call.plan.id)
        if pacing is None or call.inbound:  # not a dial: nothing for the answer estimates
            return
        result = PACER_RESULTS.get(carrier_outcome, CallResult.FAILED)
        if result is CallResult.LIVE and call.answered_at is not None:
            seconds = call.answered_at - call.launched_at
        else:
            seconds = self._now() - call.launched_at
        pacing.outcomes.append(CallOutcome(result=result, seconds=max(0.0, seconds)))

    def observe_wrap_ups(self, snapshot: Sequence[AgentSnapshot]) -> None:
        """An agent leaving wrap-up completes one service record for the pacer
        (`snapshot`: the agents as just read, the roster still holds the last read)."""
        now = self.clock()
        phases = {agent.agent_id: agent.phase for agent in snapshot}
        for agent_id, before in self.roster.agents.items():
            if before.phase is not AgentPhase.WRAP_UP or phases.get(agent_id) is AgentPhase.WRAP_UP:
                continue
            talk = self._talk.pop(agent_id, None)
            pacing = self.by_campaign.get(before.campaign_id)
            if talk is not None and pacing is not None:
                wrap = max(0.0, (now - before.since).total_seconds())
                pacing.services.append(ServiceRecord(talk_seconds=talk, wrap_seconds=wrap))
