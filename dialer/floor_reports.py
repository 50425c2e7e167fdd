"""What the dialer tells the floor about itself: dialing held or resumed as
the trunk's health changes, the trunk's status, each campaign's hopper depth
(on change, and said again at each refill for a floor rebuilt meanwhile)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from callcenter.bus import EventBus
from callcenter.events import DialingHeld, HopperDepth, TrunkStatusReported
from dialer.carrier import Carrier
from dialer.ports import DialerServices, LeadSource

log = logging.getLogger(__name__)

_TRUNK_STATE_KEYS = ("healthy", "reason", "registration", "registration_detail", "options")


class FloorReports:
    def __init__(
        self,
        *,
        services: DialerServices,
        leads: LeadSource,
        carrier: Carrier,
        bus: EventBus,
        monotonic: Callable[[], float],
        trunk_name: str,
        trunk_status_every_s: float,
    ) -> None:
        self.services = services
        self.leads = leads
        self.carrier = carrier
        self.bus = bus
        self._now = monotonic
        self.trunk_name = trunk_name
        self.trunk_status_every_s = trunk_status_every_s
        self.held_reason: str | None = None
        """Why dialing is held (the trunk is unhealthy), None while it is not."""
        self._held_said = False  # the floor may show what an earlier dialer said
        self._hopper_depths: dict[int, int] = {}
        self._trunk_state: dict[str, object] | None = None
        self._trunk_said_at: float | None = None

    def check_health(self) -> bool:
        """Whether the trunk may be dialed; dialing held or resumed is said on change."""
        health = self.carrier.health()
        reason = None if health.healthy else (health.reason or "trunk unhealthy")
        if reason != self.held_reason or not self._held_said:
            trunk = self.trunk_name
            if reason is not None:
                log.warning("trunk %s unhealthy, dialing held: %s", trunk, reason)
            elif self._held_said:
                log.warning("trunk %s healthy again: dialing resumed", trunk)
            self.bus.publish(
                DialingHeld(
                    trunk=trunk, held=reason is not None, reason=reason or "trunk healthy again"
                )
            )
            self.held_reason, self._held_said = reason, True
        return reason is None

    def dialing_held(self) -> bool:
        return self.held_reason is not None

    async def report_trunk_status(self, now: datetime) -> None:
        """Registration, OPTIONS and load of the trunk: at once when its state
        changes, else every `trunk_status_every_s` (calls up change all the time)."""
        status = self.carrier.status().as_dict()
        state = {key: status[key] for key in _TRUNK_STATE_KEYS}
        mono = self._now()
        due = self._trunk_said_at is None or mono - self._trunk_said_at >= (
            self.trunk_status_every_s
        )
        if state == self._trunk_state and not due:
            return
        self._trunk_state, self._trunk_said_at = state, mono
        await asyncio.to_thread(self.services.report_trunk_status, status, now=now)
        self.bus.publish(
            TrunkStatusReported(
                dialer_id=self.services.dialer_id, trunk=self.trunk_name, status=status
            )
        )

    def say_again(self) -> None:
        """Hopper depths and a held trunk are published on change only; said
        again at each refill, a floor rebuilt after Redis lost its data (or a
        supervisor process started since) learns them again."""
        self._hopper_depths.clear()
        if self.held_reason is not None:
            self._held_said = False

    async def report_hopper_depth(self, campaign_id: int) -> None:
        """Tell the floor how many leads are queued, when that changes."""
        depth = await asyncio.to_thread(self.leads.depth, campaign_id)
        if self._hopper_depths.get(campaign_id) != depth:
            self._hopper_depths[campaign_id] = depth
            self.bus.publish(HopperDepth(campaign_id=campaign_id, depth=depth))
