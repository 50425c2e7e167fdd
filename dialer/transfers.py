"""The dialer's side of agent transfers: it moves the media and says what it
did (`transfer.progressed`); the transfers service (callcenter) decided who
may transfer to whom and moves the agents when it hears back.

* blind, to an agent: the customer is bridged from the opener's phone leg to
  the target agent's (both legs are nailed up, so nothing rings);
* blind, to an outside number: the customer hears hold music while the number
  is dialed; once it answers the two calls are joined, and when either hangs
  up the other is hung up too; if it does not answer, the customer goes back
  to the opener;
* warm: the customer is put on hold music and the opener's leg is bridged to
  the target's (the consult); then hand over (customer to the target), join
  (the target joins the customer and the opener: the mixer's barge mode) or
  cancel (back to the customer)."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from callcenter.bus import EventBus
from callcenter.events import TransferActionRequested, TransferProgressed, TransferRequested
from dialer.agent_legs import AgentLegs
from dialer.carrier import CallProgress, Carrier, CarrierError, OriginateRequest
from dialer.live_calls import LiveCall, LiveCalls
from dialer.voices import hold_wav

log = logging.getLogger(__name__)

OUTSIDE_RING_TIMEOUT_S = 30.0
PASSES = 8
"""How often a request for a call this dialer does not carry is passed on to
the group (dialers share one consumer group; the one carrying it acts)."""


@dataclass
class ActiveTransfer:
    request: TransferRequested
    state: str = "requested"
    outside_call_id: str | None = None

    @property
    def transfer_id(self) -> int:
        return self.request.transfer_id


class TransferDesk:
    def __init__(
        self,
        *,
        calls: LiveCalls,
        carrier: Carrier,
        bus: EventBus,
        legs: AgentLegs,
        spawn: Callable[[Coroutine[Any, Any, Any]], Any],
    ) -> None:
        self.calls = calls
        self.carrier = carrier
        self.bus = bus
        self.legs = legs
        self._spawn = spawn
        self.active: dict[str, ActiveTransfer] = {}  # by the customer's call id
        self._outside: dict[str, str] = {}  # outside call id -> customer call id

    async def on_request(self, event: TransferRequested) -> None:
        call = self.calls.get(event.call_id)
        if call is None and event.passed_on < PASSES:
            self.bus.publish(dataclasses.replace(event, passed_on=event.passed_on + 1))
            return
        if call is None or call.ended or call.connected_at is None:
            self._say(event.transfer_id, event.call_id, "failed", "the call is not up here")
            return
        if event.call_id in self.active:
            self._say(event.transfer_id, event.call_id, "failed", "a transfer is under way")
            return
        transfer = ActiveTransfer(event)
        self.active[event.call_id] = transfer
        try:
            if event.to_number is not None:
                await self._to_number(call, transfer)
            elif event.kind == "warm":
                await self._consult(call, transfer)
            else:
                await self._move(call, transfer, self._leg(event.to_agent_id))
        except CarrierError as exc:
            await self._fail(call, transfer, str(exc))

    async def on_action(self, event: TransferActionRequested) -> None:
        call = self.calls.get(event.call_id)
        if call is None and event.passed_on < PASSES:
            self.bus.publish(dataclasses.replace(event, passed_on=event.passed_on + 1))
            return
        transfer = self.active.get(event.call_id)
        if call is None or transfer is None or transfer.transfer_id != event.transfer_id:
            return
        request = transfer.request
        try:
            opener, target = self._leg(request.from_agent_id), self._leg(request.to_agent_id)
            carrier = self.carrier
            if transfer.state == "joined":
                await carrier.end_monitor(call.call_id, target)
            else:
                await carrier.unbridge_agents(opener, target)
                await carrier.unhold(call.call_id)
            if event.action == "hand_over":
                await self._move(call, transfer, target)
            elif event.action == "join":
                await carrier.bridge(call.call_id, opener)
                await carrier.monitor(call.call_id, target, "barge")
                transfer.state = "joined"
                self._say(transfer.transfer_id, call.call_id, "joined")
            else:
                await carrier.bridge(call.call_id, opener)
                self._done(call, transfer, "cancelled", "the agent went back to the customer")
        except CarrierError as exc:
            await self._fail(call, transfer, str(exc))

    def on_call_ended(self, call: LiveCall) -> None:
        """The customer hung up: an open transfer fails; a joined outside call ends."""
        transfer = self.active.pop(call.call_id, None)
        if transfer is not None:
            self._say(transfer.transfer_id, call.call_id, "failed", "the customer hung up")
            if transfer.outside_call_id is not None:
                self._spawn(self.carrier.hang_up(transfer.outside_call_id))
        for outside, customer in list(self._outside.items()):
            if customer == call.call_id:
                self._spawn(self.carrier.hang_up(outside))

    # the moves ------------------------------------------------------------------------------

    async def _move(self, call: LiveCall, transfer: ActiveTransfer, target_leg: str) -> None:
        carrier = self.carrier
        await carrier.unbridge(call.call_id)
        await carrier.bridge(call.call_id, target_leg)
        call.agent_id = transfer.request.to_agent_id
        self._done(call, transfer, "completed")

    async def _consult(self, call: LiveCall, transfer: ActiveTransfer) -> None:
        request = transfer.request
        opener, target = self._leg(request.from_agent_id), self._leg(request.to_agent_id)
        await self.carrier.hold(call.call_id, hold_wav())
        await self.carrier.bridge_agents(opener, target)
        transfer.state = "consulting"
        self._say(transfer.transfer_id, call.call_id, "consulting")

    async def _to_number(self, call: LiveCall, transfer: ActiveTransfer) -> None:
        request = transfer.request
        assert request.to_number is not None
        outside_id = uuid.uuid4().hex
        transfer.outside_call_id = outside_id
        self._outside[outside_id] = call.call_id
        await self.carrier.hold(call.call_id, hold_wav())

        def on_progress(progress: CallProgress) -> None:
            self._spawn(self._outside_progress(call, transfer, progress))

        await self.carrier.originate(
            OriginateRequest(
                call_id=outside_id,
                to_number=request.to_number,
                caller_id=request.caller_id or call.plan.caller_id,
                ring_timeout_s=OUTSIDE_RING_TIMEOUT_S,
                caller_name=call.plan.caller_name,
            ),
            on_progress,
        )

    async def _outside_progress(
        self, call: LiveCall, transfer: ActiveTransfer, progress: CallProgress
    ) -> None:
        carrier = self.carrier
        if progress.phase == "answered":
            if call.ended:
                await carrier.hang_up(progress.call_id)
                return
            try:
                await carrier.join_calls(call.call_id, progress.call_id)
            except CarrierError as exc:
                await carrier.hang_up(progress.call_id)
                await self._fail(call, transfer, str(exc))
                return
            self._done(call, transfer, "completed")
        elif progress.phase == "ended":
            self._outside.pop(progress.call_id, None)
            if self.active.get(call.call_id) is transfer:  # never answered
                await self._fail(call, transfer, f"outside number: {progress.outcome}")
            elif not call.ended:  # the outside party hung up: the customer's call ends too
                call.end_reason = "transferred call hung up"
                await carrier.hang_up(call.call_id)

    # endings --------------------------------------------------------------------------------

    async def _fail(self, call: LiveCall, transfer: ActiveTransfer, reason: str) -> None:
        """Back to the opener as it was before the transfer, however far it got."""
        log.warning("transfer %s of %s failed: %s", transfer.transfer_id, call.call_id, reason)
        carrier = self.carrier
        opener = self.legs.up(transfer.request.from_agent_id)
        target = self.legs.up(transfer.request.to_agent_id or 0)
        if opener is not None and target is not None:
            await carrier.unbridge_agents(opener.leg_id, target.leg_id)
        if not call.ended and opener is not None:
            await carrier.unhold(call.call_id)
            try:
                await carrier.bridge(call.call_id, opener.leg_id)
            except CarrierError as exc:
                log.warning("call %s not given back to its agent: %s", call.call_id, exc)
        self._done(call, transfer, "failed", reason)

    def _done(
        self, call: LiveCall, transfer: ActiveTransfer, state: str, reason: str | None = None
    ) -> None:
        if self.active.get(call.call_id) is transfer:
            del self.active[call.call_id]
        self._say(transfer.transfer_id, call.call_id, state, reason)

    def _say(self, transfer_id: int, call_id: str, state: str, reason: str | None = None) -> None:
        self.bus.publish(
            TransferProgressed(
                transfer_id=transfer_id,
                call_id=call_id,
                state=state,
                reason=reason[:120] if reason else None,
            )
        )

    def _leg(self, agent_id: int | None) -> str:
        leg = self.legs.up(agent_id or 0)
        if leg is None:
            raise CarrierError(f"agent {agent_id} has no phone leg up")
        return leg.leg_id
