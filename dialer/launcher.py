"""Placing calls: a claimed lead dialed out, a customer ringing a campaign's
number back taken in; either way the calls row is written and `call.dialing`
said before anything else about the call."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from callcenter.bus import EventBus
from callcenter.events import CallDialing
from dialer.call_rate import CallRate
from dialer.call_rules import same_number
from dialer.carrier import (
    CallProgress,
    Carrier,
    CarrierError,
    InboundOffer,
    OriginateRequest,
    ProgressCallback,
)
from dialer.live_calls import LiveCall, LiveCalls
from dialer.ports import CampaignPlan, ClaimedLead, DialerServices

log = logging.getLogger(__name__)


class PlaceCall(Protocol):
    def __call__(
        self,
        plan: CampaignPlan,
        lead: ClaimedLead,
        *,
        agent_id: int | None = None,
        manual: bool = False,
    ) -> Coroutine[Any, Any, LiveCall]: ...


class CallLauncher:
    def __init__(
        self,
        *,
        services: DialerServices,
        carrier: Carrier,
        bus: EventBus,
        calls: LiveCalls,
        call_rate: CallRate,
        plans: Callable[[], Iterable[CampaignPlan]],
        on_progress: ProgressCallback,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
    ) -> None:
        self.services = services
        self.carrier = carrier
        self.bus = bus
        self.calls = calls
        self.call_rate = call_rate
        self._plans = plans
        self._on_progress = on_progress
        self.clock = clock
        self._now = monotonic
        self.placed = 0

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
        so every later event finds the row whichever consumer applies it.
        Every call placed counts against the trunk's calls a second: the
        pacer asks for room before it claims a lead, while a call an agent
        asked for is placed even past the limit."""
        call = self._new_call(plan, lead, agent_id)
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
        await self._dial(call, dialed_at, manual=manual)
        return call

    async def place_calls(self, plan: CampaignPlan, leads: Sequence[ClaimedLead]) -> None:
        """`place_call` for the pacer's launches of a tick (no agent of their
        own): every calls row written in one transaction, then each dialed."""
        placed = [self._new_call(plan, lead, None) for lead in leads]
        dialed_at = self.clock()
        await asyncio.to_thread(self._open_calls, placed, dialed_at)
        for call in placed:
            await self._dial(call, dialed_at, manual=False)
            await asyncio.sleep(0)  # a tick's INVITEs are many: timers and RTP run between them

    def _open_calls(self, placed: Sequence[LiveCall], dialed_at: datetime) -> None:
        """From a thread. A batch the database refuses is written call by call,
        so one bad row does not leave the others to the consumer."""
        try:
            self.services.open_calls([(c.call_id, c.lead) for c in placed], now=dialed_at)
            return
        except Exception:
            log.warning("calls rows of %d calls not written together", len(placed), exc_info=True)
        for call in placed:
            try:
                self.services.open_call(call.call_id, call.lead, agent_id=None, now=dialed_at)
            except Exception:
                # The consumer that applies call.dialing writes it instead.
                log.exception("calls row of %s not written ahead", call.call_id, extra=call.log_ids)

    def _new_call(self, plan: CampaignPlan, lead: ClaimedLead, agent_id: int | None) -> LiveCall:
        """A call placed now: kept with the calls up, counted against the trunk's rate."""
        call = LiveCall(
            call_id=uuid.uuid4().hex,
            plan=plan,
            lead=lead,
            launched_at=self._now(),
            preview_agent=agent_id,
        )
        self.calls[call.call_id] = call
        self.placed += 1
        self.call_rate.take()
        return call

    async def _dial(self, call: LiveCall, dialed_at: datetime, *, manual: bool) -> None:
        """`call.dialing`, then the INVITE (its row is written by now)."""
        plan, lead = call.plan, call.lead
        self.bus.publish(
            CallDialing(
                call_id=call.call_id,
                campaign_id=plan.id,
                lead_id=lead.lead_id,
                attempt=lead.attempt,
                agent_id=call.preview_agent,
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
            await self.carrier.originate(request, self._on_progress)
        except (CarrierError, OSError) as exc:
            log.warning("originate %s failed: %s", call.call_id, exc, extra=call.log_ids)
            self._on_progress(
                CallProgress(
                    call_id=call.call_id,
                    phase="ended",
                    at=self.clock(),
                    outcome="failed",
                    sip_reason=f"originate failed: {exc}"[:120],
                )
            )

    async def on_inbound(self, offer: InboundOffer) -> ProgressCallback | None:
        """A call to one of our numbers: answered when a campaign this dialer
        holds has it as its caller ID; the caller is then a waiting live
        answer like any other (the pacer sees it waiting and the agent who
        takes it as busy), given the campaign's inbound wait."""
        plan = next((p for p in self._plans() if same_number(p.caller_id, offer.dialed)), None)
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
        return self._on_progress
