"""A live answer to an agent: the recording notice first where the campaign
asks for it, then the longest-idle ready agent (oldest answer first), the
customer bridged into the agent's phone leg; when no agent takes it within
the abandon window, the abandon message (an inbound caller hears that we
will ring back instead)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from callcenter.bus import EventBus
from callcenter.events import CallConnected
from dialer.agent_legs import AgentLeg, AgentLegs
from dialer.agent_roster import AgentRoster
from dialer.carrier import Carrier, CarrierError
from dialer.consent_prompts import ConsentPromptCache
from dialer.live_calls import LiveCall, LiveCalls
from dialer.ports import DialerServices
from dialer.voices import consent_wav, ringback_wav

log = logging.getLogger(__name__)


class AnswerConnector:
    def __init__(
        self,
        *,
        services: DialerServices,
        carrier: Carrier,
        bus: EventBus,
        calls: LiveCalls,
        roster: AgentRoster,
        legs: AgentLegs,
        record: Callable[[LiveCall, str], None],
        refresh_agents: Callable[[], Coroutine[Any, Any, None]],
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
        consent_prompts: ConsentPromptCache | None,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        abandon_after_s: float,
        agent_poll_s: float,
    ) -> None:
        self.services = services
        self.carrier = carrier
        self.bus = bus
        self.calls = calls
        self.roster = roster
        self.legs = legs
        self._record = record
        self._refresh_agents = refresh_agents
        self._spawn = spawn
        self.consent_prompts = consent_prompts
        self.clock = clock
        self._now = monotonic
        self.abandon_after_s = abandon_after_s
        self.agent_poll_s = agent_poll_s
        self._waiting: dict[int, collections.deque[str]] = collections.defaultdict(
            collections.deque
        )
        self._serve_lock: asyncio.Lock | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    def start(self) -> None:
        self._serve_lock = asyncio.Lock()
        self._stopped.clear()

    def stop(self) -> None:
        self._stopped.set()
        if self._watcher is not None:
            self._watcher.cancel()

    def answered(self, call: LiveCall) -> None:
        """The customer answered: the recording notice where it is due, then an agent."""
        if call.plan.recording != "off" and call.plan.recording_consent:
            call.notice_playing = True
            self._spawn(self._notice_then_offer(call))
        else:
            self._offer(call)

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
                    agent_id = await self.roster.claim(campaign_id, call.call_id)
                    if agent_id is None:
                        break
                    queue.popleft()
                    if not call.waiting:  # ended or abandoned while the claim was made
                        await self.roster.let_go(agent_id, "call gone before connect")
                        continue
                    call.connecting = True
                    call.connect_task = self._spawn(self._connect(call, agent_id))

    async def _connect(self, call: LiveCall, agent_id: int) -> None:
        """Bridge the answer into the agent's phone leg; never to nothing."""
        call.agent_id = agent_id
        try:
            leg = self.legs.up(agent_id)
            bridged = leg is not None and await self._bridge(call, leg)
            if call.ended:
                return  # the end of the call lets the agent go
            if leg is not None and self.legs.up(agent_id) is not leg:
                leg = None  # it dropped meanwhile
            if leg is None or not bridged:
                if leg is not None:  # up as far as we know, yet nothing can be bridged into it
                    self.legs.drop(leg, "phone leg could not be bridged")
                await self._no_phone_at_connect(call, agent_id)
                return
            call.connected_at = self._now()
            if call.plan.recording == "all":
                self._record(call, "campaign")
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
            await self.roster.let_go(agent_id, "phone lost")
        except Exception:
            log.exception("agent %s not let go after their phone was lost", agent_id)
        call.connecting = False
        if call.ended:
            return
        if call.preview_agent is not None:
            await self._abandon(call)
        else:
            self._wait_for_agent(call, first=True)

    def phone_lost(self, leg: AgentLeg, reason: str) -> None:
        """An agent's leg failed or dropped: a call connected to it is ended
        (the agent still wraps it up)."""
        for call in self.calls.up():
            if call.agent_id == leg.agent_id and call.connected_at is not None:
                call.end_reason = f"agent {reason}"[:120]
                self._spawn(self.carrier.hang_up(call.call_id))

    async def _abandon_unless_taken(self, call: LiveCall) -> None:
        offered_at = call.offered_at if call.offered_at is not None else call.answered_at
        assert offered_at is not None
        window = call.plan.inbound_wait_s if call.inbound else self.abandon_after_s
        # The dialer stopping ends every call: the shutdown need not wait out the window.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self._stopped.wait(), max(0.0, offered_at + window - self._now())
            )
        if self._stopped.is_set() or not call.waiting or call.connecting:
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
        while self.calls.any_waiting():
            await asyncio.sleep(self.agent_poll_s)
            await self._refresh_agents()
