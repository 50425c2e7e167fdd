"""The agents as this dialer last read them, and the ready-agent pool it
offers them in: who is ready here, claiming the longest-idle one for a live
answer (the database has the last word), letting an agent go again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from dialer.agent_legs import AgentLegs
from dialer.agent_pool import AgentPool
from dialer.ports import AgentPhase, AgentSnapshot, DialerServices

log = logging.getLogger(__name__)


class AgentRoster:
    def __init__(
        self,
        *,
        services: DialerServices,
        pool: AgentPool,
        legs: AgentLegs,
        clock: Callable[[], datetime],
    ) -> None:
        self.services = services
        self.pool = pool
        self.legs = legs
        self.clock = clock
        self.agents: dict[int, AgentSnapshot] = {}
        self.claimed: set[int] = set()
        """Agents this dialer is reserving or dialing for right now (out of the pool)."""
        self._pooled: set[int] = set()

    def of_campaign(self, campaign_id: int) -> list[AgentSnapshot]:
        return [agent for agent in self.agents.values() if agent.campaign_id == campaign_id]

    def replace(self, snapshot: Sequence[AgentSnapshot]) -> None:
        self.agents = {agent.agent_id: agent for agent in snapshot}

    async def offer_ready(self, serving: set[int], *, offered: Callable[[int], bool]) -> None:
        """Offer in the pool the agents ready for a campaign served here, whose
        phone leg is up, not claimed here and not shown a preview (`offered`)."""
        ready: dict[int, list[tuple[int, datetime]]] = {cid: [] for cid in serving}
        for agent in self.agents.values():
            if agent.phase is not AgentPhase.READY or agent.campaign_id not in serving:
                continue
            if agent.agent_id in self.claimed or offered(agent.agent_id):
                continue
            if self.legs.up(agent.agent_id) is None:
                continue  # ready only once their phone answers
            ready[agent.campaign_id].append((agent.agent_id, agent.since))
        # The pool may be shared with other dialers: only this one's campaigns.
        pools = {
            campaign_id: ready.get(campaign_id, []) for campaign_id in self._pooled | set(ready)
        }
        self._pooled = set(ready)
        await asyncio.to_thread(self._sync_pools, pools)

    def _sync_pools(self, pools: dict[int, list[tuple[int, datetime]]]) -> None:
        for campaign_id, ready in pools.items():
            self.pool.sync(campaign_id, ready)

    async def claim(self, campaign_id: int, call_id: str) -> int | None:
        """Pop agents until the database agrees one is still ready."""
        while (agent_id := await asyncio.to_thread(self.pool.claim, campaign_id)) is not None:
            self.claimed.add(agent_id)
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
                self.claimed.discard(agent_id)
            if ok:
                return agent_id
        return None

    async def let_go(self, agent_id: int, reason: str) -> None:
        await asyncio.to_thread(
            self.services.release_agent, agent_id, now=self.clock(), reason=reason
        )
