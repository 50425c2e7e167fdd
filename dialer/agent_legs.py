"""The agents' phone legs this dialer holds (design: agent legs are nailed up).

When an agent is ready, their phone is called once and the call is kept
open; customers are bridged into it, so no phone has to ring in the two
seconds an answer may wait. Only an agent whose leg is up here is offered
calls. Each step of a leg goes to the agent's row through the port, in
order (calling, then up; or lost with the SIP reason; or hung up by us),
so the agent's screen says "calling your phone…", then ready, or that the
phone is lost and why, whichever process serves it."""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialer.carrier import AgentLegRequest, CallProgress, Carrier, CarrierError
from dialer.ports import AgentPhase, AgentSnapshot, DialerServices

log = logging.getLogger(__name__)


@dataclass(eq=False)
class AgentLeg:
    leg_id: str
    agent_id: int
    phone: str
    """As the agent typed it: a change of phone hangs this leg up for a new one."""
    answered: bool = False
    ended: bool = False
    hung_up_here: bool = False
    writes: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Its reports to the database go one at a time, in the order they happened."""


def phone_target(phone: str, extension_domain: str | None) -> str:
    """A SIP URI is called as it is; an extension at the PBX behind the trunk."""
    if extension_domain is None or phone.lower().startswith(("sip:", "sips:")):
        return phone
    return f"sip:{phone}@{extension_domain}"


def loss_reason(progress: CallProgress, *, answered: bool) -> str:
    """What the agent and the audit log are told, from the leg's last SIP word."""
    said = " ".join(
        str(part) for part in (progress.sip_status, progress.sip_reason) if part is not None
    )
    if answered:
        return f"phone hung up: {progress.sip_reason or 'no reason given'}"
    return f"phone did not answer: {said or progress.outcome or 'no response'}"


class AgentLegs:
    def __init__(
        self,
        *,
        carrier: Carrier,
        services: DialerServices,
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
        clock: Callable[[], datetime],
        on_lost: Callable[[AgentLeg, str], None],
        extension_domain: str | None = None,
    ) -> None:
        self.carrier = carrier
        self.services = services
        self._spawn = spawn
        self._clock = clock
        self._on_lost = on_lost
        self.extension_domain = extension_domain
        self._legs: dict[int, AgentLeg] = {}  # agent id -> leg being called or up
        self.stopping = False
        """Set before the carrier stops: the legs it ends then are not losses."""

    def up(self, agent_id: int) -> AgentLeg | None:
        """The agent's answered leg, if they have one here."""
        leg = self._legs.get(agent_id)
        return leg if leg is not None and leg.answered and not leg.ended else None

    async def keep(self, snapshot: Sequence[AgentSnapshot], campaigns: set[int]) -> None:
        """Hang up the legs of agents who left (logged out, or on a campaign
        not served here) or changed phone; call the phone of every ready agent
        of `campaigns` who has no leg here. Returns once each new leg is
        dialing (answered already, with the simulated carrier)."""
        agents = {agent.agent_id: agent for agent in snapshot}
        for agent_id, leg in list(self._legs.items()):
            agent = agents.get(agent_id)
            gone = (
                agent is None
                or agent.campaign_id not in campaigns
                or (agent.phone or "") != leg.phone
            )
            if gone and not leg.ended:
                self.hang_up(leg)
        calls = [
            self._call(agent)
            for agent in snapshot
            if agent.phase is AgentPhase.READY
            and agent.campaign_id in campaigns
            and agent.agent_id not in self._legs
        ]
        if calls:
            await asyncio.gather(*calls)

    def hang_up(self, leg: AgentLeg) -> None:
        leg.hung_up_here = True
        self._forget(leg)
        self._spawn(self.carrier.disconnect_agent(leg.leg_id))

    def drop(self, leg: AgentLeg, reason: str) -> None:
        """A leg that cannot be used (a customer could not be bridged into
        it) is as good as lost: hung up, and reported lost."""
        self._spawn(self.carrier.disconnect_agent(leg.leg_id))
        self._ended(leg, reason)

    def _forget(self, leg: AgentLeg) -> None:
        if self._legs.get(leg.agent_id) is leg:
            del self._legs[leg.agent_id]

    async def _call(self, agent: AgentSnapshot) -> None:
        agent_id = agent.agent_id
        leg = AgentLeg(f"agent-{agent_id}-{uuid.uuid4().hex[:8]}", agent_id, agent.phone or "")
        self._legs[agent_id] = leg
        try:
            asked = await asyncio.to_thread(self.services.phone_leg_calling, agent_id, leg.leg_id)
        except Exception:
            log.exception("agent %s: phone leg not recorded; trying next tick", agent_id)
            asked = False
        if not asked:  # no longer ready
            self._forget(leg)
            return
        target = phone_target(leg.phone, self.extension_domain) or f"agent-{agent_id}"
        request = AgentLegRequest(agent_leg_id=leg.leg_id, agent_uri=target)
        try:
            await self.carrier.connect_agent(request, functools.partial(self._progress, leg))
        except Exception as exc:  # one agent's phone never stops the others' legs
            if not isinstance(exc, CarrierError | OSError | ValueError):  # ValueError: a bad URI
                log.exception("agent %s: calling the phone failed", agent_id)
            self._ended(leg, f"phone not called: {exc}"[:120])

    def _progress(self, leg: AgentLeg, progress: CallProgress) -> None:
        if leg.ended:
            return
        if progress.phase == "answered":
            leg.answered = True
            log.info("agent %s phone leg up", leg.agent_id, extra={"agent_id": leg.agent_id})
            self._write(leg, self.services.phone_leg_answered, leg.agent_id, leg.leg_id)
        elif progress.phase == "ended":
            self._ended(leg, loss_reason(progress, answered=leg.answered))

    def _ended(self, leg: AgentLeg, reason: str) -> None:
        if leg.ended:
            return
        leg.ended = True
        if leg.hung_up_here or self.stopping:
            self._forget(leg)
            self._write(leg, self.services.phone_leg_hung_up, leg.agent_id, leg.leg_id)
            return
        log.warning(
            "agent %s phone lost: %s", leg.agent_id, reason, extra={"agent_id": leg.agent_id}
        )
        lost = functools.partial(self.services.phone_leg_lost, reason=reason, now=self._clock())

        def recorded() -> None:
            # The lost leg stays in the way until the agent's row says so: an
            # agent still ready in a snapshot read before that is not called
            # again. Its call is ended only now, so the wrap-up that follows
            # already sees the leg lost (and ends in the phone_lost pause, never
            # in Ready without a phone).
            self._forget(leg)
            self._on_lost(leg, reason)

        self._write(leg, lost, leg.agent_id, leg.leg_id, then=recorded)

    def _write(
        self,
        leg: AgentLeg,
        port_call: Callable[..., Any],
        *args: Any,
        then: Callable[[], None] | None = None,
    ) -> None:
        async def write() -> None:
            async with leg.writes:
                try:
                    await asyncio.to_thread(port_call, *args)
                except Exception:
                    log.exception("agent %s: phone leg state not recorded", leg.agent_id)
                finally:
                    if then is not None:
                        then()

        self._spawn(write())
