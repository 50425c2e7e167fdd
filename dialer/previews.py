"""Preview mode: a ready agent is offered a held lead (`preview.offered`), and
it is dialed for them when they ask or when the campaign's preview timeout
passes; an offer not taken up, skipped or no longer dialable goes back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callcenter.bus import EventBus
from callcenter.events import PreviewOffered, PreviewSkipped
from dialer.agent_pool import AgentPool
from dialer.agent_roster import AgentRoster
from dialer.launcher import PlaceCall
from dialer.ports import AgentPhase, CampaignPlan, HeldLead, LeadSource

log = logging.getLogger(__name__)


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


class PreviewDesk:
    def __init__(
        self,
        *,
        leads: LeadSource,
        pool: AgentPool,
        bus: EventBus,
        roster: AgentRoster,
        place_call: PlaceCall,
        plan_of: Callable[[int], CampaignPlan | None],
        dialing_held: Callable[[], bool],
        trunk_room: Callable[[], int | None],
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
        stale_after_s: float,
    ) -> None:
        self.leads = leads
        self.pool = pool
        self.bus = bus
        self.roster = roster
        self._place_call = place_call
        self._plan_of = plan_of
        self._dialing_held = dialing_held
        self._trunk_room = trunk_room
        self.clock = clock
        self._now = monotonic
        self._spawn = spawn
        self.stale_after_s = stale_after_s
        self.offers: dict[int, PreviewOffer] = {}
        """By agent id: the lead each agent is shown."""

    def offered(self, agent_id: int) -> bool:
        return agent_id in self.offers

    async def tick(self, plan: CampaignPlan, healthy: bool) -> None:
        """Dial the offers whose time is up, then offer a lead to each ready
        agent in the pool while the trunk has room."""
        timeout = plan.preview_timeout_s
        for offer in list(self.offers.values()):
            if offer.campaign_id != plan.id:
                continue
            if timeout is not None and self._now() - offer.offered_at >= timeout:
                log.info(
                    "preview of lead %s timed out: dialing it",
                    offer.lead_id,
                    extra={"lead_id": offer.lead_id, "agent_id": offer.agent_id},
                )
                await self.dial(offer.agent_id, offer.lead_id)
        if not healthy:
            return
        while (room := self._trunk_room()) is None or room > len(self.offers):
            agent_id = await asyncio.to_thread(self.pool.claim, plan.id)
            if agent_id is None:
                return
            held = await asyncio.to_thread(
                self.leads.hold, plan.id, agent_id=agent_id, now=self.clock()
            )
            if held is None:
                return  # the agent goes back into the pool on the next refresh
            self.offers[agent_id] = PreviewOffer(agent_id, held, self._now())
            # The workstation reserves the agent and shows them the lead.
            self.bus.publish(
                PreviewOffered(agent_id=agent_id, campaign_id=plan.id, lead_id=held.lead_id)
            )

    async def drop_stale(self) -> None:
        """Offers the workstation never took up (the agent paused or left first)."""
        for offer in list(self.offers.values()):
            agent = self.roster.agents.get(offer.agent_id)
            taken_up = agent is not None and agent.phase is AgentPhase.RESERVED
            age = self._now() - offer.offered_at
            if agent is None or (not taken_up and age >= self.stale_after_s):
                log.info(
                    "preview of lead %s to agent %s withdrawn",
                    offer.lead_id,
                    offer.agent_id,
                    extra={"lead_id": offer.lead_id, "agent_id": offer.agent_id},
                )
                del self.offers[offer.agent_id]
                await self._give_back(offer.held)

    def phone_lost(self, agent_id: int) -> None:
        """The agent's phone went: the lead shown to them goes back."""
        offer = self.offers.pop(agent_id, None)
        if offer is not None:
            self._spawn(self._give_back(offer.held))

    async def skipped(self, event: PreviewSkipped) -> None:
        offer = self.offers.get(event.agent_id)
        if offer is not None and offer.lead_id == event.lead_id:
            # The workstation has already made the agent ready again.
            del self.offers[event.agent_id]
            await self._give_back(offer.held)

    async def withdraw_all(self, reason: str) -> None:
        for offer in list(self.offers.values()):
            await self._withdraw(offer, reason)

    async def _withdraw(self, offer: PreviewOffer, reason: str) -> None:
        self.offers.pop(offer.agent_id, None)
        await self._give_back(offer.held)
        await self.roster.let_go(offer.agent_id, reason)

    async def _give_back(self, held: HeldLead) -> None:
        await asyncio.to_thread(self.leads.give_back, held)

    async def dial(self, agent_id: int, lead_id: int) -> None:
        """Dial the lead offered to this agent (they asked, or its time is up)."""
        offer = self.offers.get(agent_id)
        if offer is None or offer.lead_id != lead_id:
            log.info(
                "preview call for lead %s by agent %s: no such offer",
                lead_id,
                agent_id,
                extra={"lead_id": lead_id, "agent_id": agent_id},
            )
            return
        plan = self._plan_of(offer.campaign_id)
        if plan is None or self._dialing_held():
            await self._withdraw(offer, "preview not dialable now")
            return
        del self.offers[agent_id]
        claimed = await asyncio.to_thread(self.leads.claim_held, offer.held, now=self.clock())
        if claimed is None:
            await self.roster.let_go(agent_id, "preview lead refused at dial time")
            return
        await self._place_call(plan, claimed, agent_id=agent_id)
