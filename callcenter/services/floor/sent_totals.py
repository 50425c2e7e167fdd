"""The agents' day totals a tick sends: those that changed since this
process's last tick, not all 200 agents' every second. A supervisor's page
has them all from `floor_state` at connect and keeps the ones it is sent.

All of them go out every FULL_EVERY ticks, and at the first tick after this
process takes the floor's lead (`forget`): what another process sent while it
led is not known here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FULL_EVERY = 30


@dataclass
class SentAgentTotals:
    full_every: int = FULL_EVERY
    _sent: dict[int, dict[str, Any]] = field(default_factory=dict)
    _ticks: int = 0

    def keep_changed(self, snapshots: Mapping[int, dict[str, Any]]) -> None:
        """Each campaign snapshot's `agent_totals` cut to the agents whose
        totals changed since the last tick (all of them on a full tick)."""
        full = self._ticks % self.full_every == 0
        self._ticks += 1
        for campaign_id, snapshot in snapshots.items():
            totals: dict[str, Any] = snapshot["agent_totals"]
            sent = self._sent.get(campaign_id, {})
            self._sent[campaign_id] = totals
            if not full:
                snapshot["agent_totals"] = {
                    agent: values for agent, values in totals.items() if sent.get(agent) != values
                }

    def forget(self) -> None:
        self._sent.clear()
        self._ticks = 0
