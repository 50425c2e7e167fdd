"""Supervisors' phone legs: one per monitoring session (listen, whisper, barge).

On ``monitor.requested`` the dialer holding the call calls the supervisor's
phone (their browser phone or a SIP address, called as an agent's is).
When it answers, the leg joins the call's mix in the asked mode
(``Carrier.monitor``) and ``monitor.started`` goes out; a mode change is
applied to the same leg. The leg is hung up when the supervisor stops or
the call ends; whatever ends it, ``monitor.ended`` goes out once, with why.
The customer and the agent are never touched here: a leg that fails or
drops only leaves the mix.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from callcenter.events import (
    Event,
    MonitorEnded,
    MonitorModeChanged,
    MonitorRequested,
    MonitorStarted,
    MonitorStopRequested,
)
from dialer.agent_legs import phone_target
from dialer.carrier import AgentLegRequest, CallProgress, Carrier, CarrierError

log = logging.getLogger(__name__)


@dataclass(eq=False)
class MonitorLeg:
    session_id: int
    call_id: str
    mode: str
    answered: bool = False
    joined: bool = False
    ended: bool = False
    end_reason: str | None = None  # set when we end it ourselves

    @property
    def leg_id(self) -> str:
        return f"monitor-{self.session_id}"


class MonitorLegs:
    def __init__(
        self,
        *,
        carrier: Carrier,
        publish: Callable[[Event], None],
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
        extension_domain: str | None = None,
    ) -> None:
        self.carrier = carrier
        self._publish = publish
        self._spawn = spawn
        self.extension_domain = extension_domain
        self._legs: dict[int, MonitorLeg] = {}  # session id -> leg

    def of_call(self, call_id: str) -> list[MonitorLeg]:
        return [leg for leg in self._legs.values() if leg.call_id == call_id]

    async def request(self, event: MonitorRequested) -> None:
        if event.session_id in self._legs:
            return  # delivered twice
        leg = MonitorLeg(event.session_id, event.call_id, event.mode)
        self._legs[leg.session_id] = leg
        target = phone_target(event.phone, self.extension_domain)
        request = AgentLegRequest(agent_leg_id=leg.leg_id, agent_uri=target)
        try:
            await self.carrier.connect_agent(request, functools.partial(self._progress, leg))
        except Exception as exc:
            if not isinstance(exc, CarrierError | OSError | ValueError):
                log.exception("monitor %s: calling the supervisor failed", leg.session_id)
            self._finish(leg, "phone_failed")

    async def change_mode(self, event: MonitorModeChanged) -> None:
        leg = self._legs.get(event.session_id)
        if leg is None or leg.ended:
            return
        leg.mode = event.mode
        if leg.joined:
            await self._join(leg)

    async def stop(self, event: MonitorStopRequested) -> None:
        leg = self._legs.get(event.session_id)
        if leg is not None:
            await self._hang_up(leg, "supervisor")

    async def call_ended(self, call_id: str) -> None:
        """The call is over (the carrier has already taken the legs out of it)."""
        for leg in self.of_call(call_id):
            await self._hang_up(leg, "call_ended")

    async def _hang_up(self, leg: MonitorLeg, reason: str) -> None:
        if leg.ended:
            return
        leg.end_reason = leg.end_reason or reason
        try:
            await self.carrier.end_monitor(leg.call_id, leg.leg_id)
            await self.carrier.disconnect_agent(leg.leg_id)
        except CarrierError as exc:
            log.info("monitor %s: %s", leg.session_id, exc)
        if not leg.answered:  # still ringing: no ended progress may ever come
            self._finish(leg, reason)

    def _progress(self, leg: MonitorLeg, progress: CallProgress) -> None:
        if leg.ended:
            return
        if progress.phase == "answered":
            leg.answered = True
            if leg.end_reason is not None:  # stopped while it rang
                self._spawn(self._hang_up(leg, leg.end_reason))
            else:
                self._spawn(self._join(leg))
        elif progress.phase == "ended":
            self._finish(leg, "phone_hung_up" if leg.answered else "phone_failed")

    async def _join(self, leg: MonitorLeg) -> None:
        try:
            await self.carrier.monitor(leg.call_id, leg.leg_id, leg.mode)
        except CarrierError as exc:
            log.info("monitor %s: cannot join %s: %s", leg.session_id, leg.call_id, exc)
            await self._hang_up(leg, "not_bridged")
            return
        if not leg.joined:
            leg.joined = True
            self._publish(MonitorStarted(session_id=leg.session_id, call_id=leg.call_id))

    def _finish(self, leg: MonitorLeg, reason: str) -> None:
        if leg.ended:
            return
        leg.ended = True
        self._legs.pop(leg.session_id, None)
        why = leg.end_reason or reason
        log.info("monitor %s on %s ended: %s", leg.session_id, leg.call_id, why)
        self._publish(MonitorEnded(session_id=leg.session_id, call_id=leg.call_id, reason=why))
