"""The calls this dialer has up, as every part of the worker sees them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from dialer.ports import CampaignPlan, ClaimedLead
from dialer.sip.recorder import Recording


@dataclass
class LiveCall:
    call_id: str
    plan: CampaignPlan
    lead: ClaimedLead
    launched_at: float
    preview_agent: int | None = None
    answered_at: float | None = None
    agent_id: int | None = None
    connected_at: float | None = None
    connecting: bool = False
    connect_task: asyncio.Task[None] | None = None
    abandoning: bool = False
    ended: bool = False
    end_reason: str | None = None
    """Why the dialer ended the call, recorded instead of the SIP reason."""
    notice_playing: bool = False
    consent_played: bool = False
    offered_at: float | None = None
    """When the answer was first offered to agents (after the recording notice):
    the abandon window counts from here."""
    recording: Recording | None = None
    inbound: bool = False
    """The customer rang the campaign's number back."""

    @property
    def log_ids(self) -> dict[str, Any]:
        """The ids a log record about this call carries (`extra=`), never the number."""
        return {"call_id": self.call_id, "lead_id": self.lead.lead_id, "campaign_id": self.plan.id}

    @property
    def waiting(self) -> bool:
        """Answered by a person and not (being) given to an agent yet."""
        return (
            self.answered_at is not None
            and not self.notice_playing
            and self.agent_id is None
            and not self.abandoning
            and not self.ended
        )


class LiveCalls(dict[str, LiveCall]):
    """The calls up, by call id (a call leaves when its end is reported)."""

    def up(self) -> list[LiveCall]:
        return [call for call in self.values() if not call.ended]

    def any_waiting(self) -> bool:
        return any(call.waiting for call in self.values())

    def campaigns(self) -> set[int]:
        """The campaigns with a call up (their answers are still connected)."""
        return {call.plan.id for call in self.up()}

    def trunk_room(self, limit: int | None, *, beside_campaign: int | None = None) -> int | None:
        """What the trunk's limit on calls up at once leaves (None: no limit);
        `beside_campaign`: as that campaign's pacer sees it, its own calls not counted."""
        if limit is None:
            return None
        taken = sum(1 for call in self.up() if call.plan.id != beside_campaign)
        return max(0, limit - taken)


def loop_time() -> float:
    """The running loop's clock: how the worker times its calls."""
    return asyncio.get_running_loop().time()
