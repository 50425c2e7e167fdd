"""What agents and supervisors ask of the dialer over the bus: dial the
previewed lead or skip it, dial a number by hand, hang up, record, transfer,
listen/whisper/barge. Dialers share one consumer group, so a request for a
campaign or call another dialer holds is passed on to the group."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime

from callcenter.bus import EventBus
from callcenter.events import (
    CallHangupRequested,
    Event,
    ManualDialRequested,
    MonitorEnded,
    MonitorModeChanged,
    MonitorRequested,
    MonitorStopRequested,
    PreviewCallRequested,
    PreviewSkipped,
    RecordingRequested,
    TransferActionRequested,
    TransferRequested,
)
from dialer.agent_roster import AgentRoster
from dialer.call_recording import RecordingDesk
from dialer.carrier import Carrier
from dialer.launcher import PlaceCall
from dialer.live_calls import LiveCalls
from dialer.monitor_legs import MonitorLegs
from dialer.ports import CampaignPlan, ClaimedLead, LeadSource
from dialer.previews import PreviewDesk
from dialer.transfers import TransferDesk

log = logging.getLogger(__name__)

MANUAL_DIAL_PASSES = 8
"""How often a manual dial for a campaign this dialer does not hold is passed
on to the group before the agent is let go (no dialer holds it)."""

REQUESTS: tuple[type[Event], ...] = (
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
)
"""The events the worker subscribes to and hands to `AgentRequests.handle`."""


class AgentRequests:
    def __init__(
        self,
        *,
        leads: LeadSource,
        carrier: Carrier,
        bus: EventBus,
        calls: LiveCalls,
        roster: AgentRoster,
        previews: PreviewDesk,
        recording: RecordingDesk,
        transfers: TransferDesk,
        monitors: MonitorLegs,
        place_call: PlaceCall,
        plan_of: Callable[[int], CampaignPlan | None],
        dialing_held: Callable[[], bool],
        trunk_room: Callable[[], int | None],
        clock: Callable[[], datetime],
    ) -> None:
        self.leads = leads
        self.carrier = carrier
        self.bus = bus
        self.calls = calls
        self.roster = roster
        self.previews = previews
        self.recording = recording
        self.transfers = transfers
        self.monitors = monitors
        self._place_call = place_call
        self._plan_of = plan_of
        self._dialing_held = dialing_held
        self._trunk_room = trunk_room
        self.clock = clock

    async def handle(self, event: Event) -> None:
        if isinstance(event, PreviewCallRequested):
            await self.previews.dial(event.agent_id, event.lead_id)
        elif isinstance(event, PreviewSkipped):
            await self.previews.skipped(event)
        elif isinstance(event, RecordingRequested):
            self.recording.on_request(event)
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
        """The workstation has checked the number, holds the agent and has
        claimed the lead's attempt; the call is placed for the agent alone,
        as a preview call is, and runs through the same screen pop and
        wrap-up. Not placed, the claim is given back and the agent let go."""
        ids = {"lead_id": event.lead_id, "agent_id": event.agent_id}
        plan = self._plan_of(event.campaign_id)
        if plan is None and event.passed_on < MANUAL_DIAL_PASSES:
            # Dialers share one consumer group: the one holding the campaign
            # may be another; the request goes round again for it.
            self.bus.publish(dataclasses.replace(event, passed_on=event.passed_on + 1))
            return
        claimed = ClaimedLead(
            lead_id=event.lead_id,
            campaign_id=event.campaign_id,
            attempt=event.attempt,
            phone_e164=event.phone_e164,
            claim_id=event.claim_id,
        )
        if not await asyncio.to_thread(self.leads.claim_stands, claimed):
            # Delivered twice (the call is placed, or given back, already), or
            # so late that recovery released the lead and the agent: the
            # agent is not this request's to let go any more.
            log.info(
                "manual dial for agent %s not placed: the lead's claim no longer stands",
                event.agent_id,
                extra=ids,
            )
            return
        if plan is None or self._dialing_held() or self._trunk_room() == 0:
            log.info(
                "manual dial for agent %s not placed: not dialable now", event.agent_id, extra=ids
            )
            await asyncio.to_thread(
                self.leads.give_back_unplaced,
                claimed,
                reason=f"dialed by hand by agent {event.agent_id}, not placed",
                now=self.clock(),
            )
            await self.roster.let_go(event.agent_id, "manual dial not placed")
            return
        log.info("dialing lead %s by hand for agent %s", event.lead_id, event.agent_id, extra=ids)
        await self._place_call(plan, claimed, agent_id=event.agent_id, manual=True)
