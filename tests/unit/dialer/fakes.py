"""In-memory stand-ins for the worker's ports, with a carrier the test drives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from callcenter.events import Event
from dialer.carrier import (
    AgentLegRequest,
    CallProgress,
    CarrierError,
    InboundHandler,
    OriginateRequest,
    ProgressCallback,
    TrunkHealth,
    TrunkStatus,
)
from dialer.ports import (
    AgentPhase,
    AgentSnapshot,
    CampaignPlan,
    ClaimedLead,
    HeldLead,
    Tally,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeServices:
    plans: list[CampaignPlan] = field(default_factory=list)
    agent_rows: dict[int, AgentSnapshot] = field(default_factory=dict)
    levels: list[tuple[int, float, str]] = field(default_factory=list)
    trunk_statuses: list[dict[str, Any]] = field(default_factory=list)
    recovered: int = 0
    sweeps: int = 0
    opened: list[str] = field(default_factory=list)
    leg_reports: list[tuple[str, int, str | None]] = field(default_factory=list)
    """(what, agent id, leg id) as the worker reported each step of a phone leg."""

    def add_agent(
        self, agent_id: int, campaign_id: int, phase: AgentPhase, since: datetime
    ) -> None:
        self.agent_rows[agent_id] = AgentSnapshot(agent_id, campaign_id, phase, since)

    def set_phase(self, agent_id: int, phase: AgentPhase) -> None:
        row = self.agent_rows[agent_id]
        self.agent_rows[agent_id] = AgentSnapshot(row.agent_id, row.campaign_id, phase, row.since)

    dialer_id: str = "fake-dialer"
    signed_in: bool = False

    def sign_in(self, *, now: datetime) -> None:
        self.signed_in = True

    def hold_campaigns(self, *, now: datetime) -> Sequence[CampaignPlan]:
        return list(self.plans)

    def report_trunk_status(self, status: dict[str, Any], *, now: datetime) -> None:
        self.trunk_statuses.append(status)

    def recover_lost_work(self, campaign_ids: Sequence[int], *, now: datetime) -> str:
        return ""

    def sign_off(self, *, now: datetime) -> None:
        self.signed_in = False

    def open_call(
        self,
        call_id: str,
        lead: ClaimedLead,
        *,
        agent_id: int | None,
        now: datetime,
        is_manual: bool = False,
    ) -> None:
        self.opened.append(call_id)

    def open_calls(self, opening: Sequence[tuple[str, ClaimedLead]], *, now: datetime) -> None:
        self.opened.extend(call_id for call_id, _lead in opening)

    def open_inbound_call(
        self, call_id: str, campaign_id: int, caller: str, *, now: datetime
    ) -> ClaimedLead | None:
        self.opened.append(call_id)
        return ClaimedLead(lead_id=0, campaign_id=campaign_id, attempt=1, phone_e164=caller)

    def agents(self) -> Sequence[AgentSnapshot]:
        return list(self.agent_rows.values())

    def reserve_agent(
        self, agent_id: int, *, call_id: str | None, now: datetime, reason: str
    ) -> bool:
        if self.agent_rows[agent_id].phase is not AgentPhase.READY:
            return False
        self.set_phase(agent_id, AgentPhase.RESERVED)
        return True

    def release_agent(self, agent_id: int, *, now: datetime, reason: str) -> None:
        if self.agent_rows[agent_id].phase is AgentPhase.RESERVED:
            self.set_phase(agent_id, AgentPhase.READY)

    def phone_leg_calling(self, agent_id: int, leg_id: str) -> bool:
        if self.agent_rows[agent_id].phase is not AgentPhase.READY:
            return False
        self.leg_reports.append(("calling", agent_id, leg_id))
        return True

    def phone_leg_answered(self, agent_id: int, leg_id: str) -> None:
        self.leg_reports.append(("up", agent_id, leg_id))

    def phone_leg_hung_up(self, agent_id: int, leg_id: str) -> None:
        self.leg_reports.append(("down", agent_id, leg_id))

    def phone_leg_lost(
        self, agent_id: int, leg_id: str | None, *, reason: str, now: datetime
    ) -> None:
        self.leg_reports.append(("lost", agent_id, leg_id))
        if self.agent_rows[agent_id].phase in (AgentPhase.READY, AgentPhase.RESERVED):
            self.set_phase(agent_id, AgentPhase.PAUSED)

    def record_dial_level(
        self, campaign_id: int, dial_level: float, reason: str, *, now: datetime
    ) -> None:
        self.levels.append((campaign_id, dial_level, reason))

    def abandon_tallies(self, campaign_id: int, *, now: datetime) -> tuple[Tally, Tally]:
        return Tally(), Tally()

    def recover(self, *, now: datetime, older_than_s: float) -> str:
        self.recovered += 1
        return "nothing to recover"

    def sweep_floor(self, *, now: datetime) -> str:
        self.sweeps += 1
        return ""


@dataclass
class FakeLeads:
    queue: dict[int, list[int]] = field(default_factory=dict)
    refused: set[int] = field(default_factory=set)
    claimed: list[int] = field(default_factory=list)
    given_back: list[int] = field(default_factory=list)
    unplaced_given_back: list[tuple[int, int]] = field(default_factory=list)
    """(lead, attempt) of manual dials claimed by the workstation, not placed."""
    claims_moved_on: set[int] = field(default_factory=set)
    """Claims by the workstation that no longer stand (`claim_stands`)."""
    callbacks: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    """Callbacks for one agent alone, by (campaign, agent)."""
    refills: list[int] = field(default_factory=list)
    """The campaigns refilled, one entry a campaign a refill."""
    in_database: dict[int, list[int]] = field(default_factory=dict)
    """Dialable leads not in the hopper yet, by campaign: a refill queues them."""

    def refill(self, campaign_ids: Sequence[int], *, now: datetime) -> None:
        self.refills.extend(campaign_ids)
        for campaign_id in campaign_ids:
            self.queue.setdefault(campaign_id, []).extend(self.in_database.pop(campaign_id, []))

    def rebuild(self, campaign_ids: Sequence[int], *, now: datetime) -> None:
        pass

    def depth(self, campaign_id: int) -> int:
        return len(self.queue.get(campaign_id, []))

    def _claim(self, campaign_id: int, lead_id: int) -> ClaimedLead | None:
        if lead_id in self.refused:
            return None
        self.claimed.append(lead_id)
        return ClaimedLead(lead_id, campaign_id, 1, f"+98912000{lead_id:04d}")

    def next_lead(self, campaign_id: int, *, now: datetime) -> ClaimedLead | None:
        queue = self.queue.get(campaign_id, [])
        while queue:
            claimed = self._claim(campaign_id, queue.pop(0))
            if claimed is not None:
                return claimed
        return None

    def next_leads(self, campaign_id: int, count: int, *, now: datetime) -> list[ClaimedLead]:
        claimed = []
        while len(claimed) < count and (lead := self.next_lead(campaign_id, now=now)):
            claimed.append(lead)
        return claimed

    def hold(self, campaign_id: int, *, agent_id: int, now: datetime) -> HeldLead | None:
        queue = self.queue.get(campaign_id, [])
        return HeldLead(queue.pop(0), campaign_id) if queue else None

    def claim_held(self, held: HeldLead, *, now: datetime) -> ClaimedLead | None:
        return self._claim(held.campaign_id, held.lead_id)

    def with_own_callbacks(self, campaign_id: int, agent_ids: Sequence[int]) -> set[int]:
        return {a for a in agent_ids if self.callbacks.get((campaign_id, a))}

    def own_callback(self, campaign_id: int, *, agent_id: int, now: datetime) -> ClaimedLead | None:
        queue = self.callbacks.get((campaign_id, agent_id), [])
        return self._claim(campaign_id, queue.pop(0)) if queue else None

    def claim_stands(self, claimed: ClaimedLead) -> bool:
        return claimed.claim_id not in self.claims_moved_on

    def give_back_unplaced(self, claimed: ClaimedLead, *, reason: str, now: datetime) -> None:
        self.unplaced_given_back.append((claimed.lead_id, claimed.attempt))

    def give_back(self, held: HeldLead) -> None:
        self.given_back.append(held.lead_id)
        self.queue.setdefault(held.campaign_id, []).insert(0, held.lead_id)


class FakeCarrier:
    def __init__(self) -> None:
        self.originated: list[OriginateRequest] = []
        self.callbacks: dict[str, ProgressCallback] = {}
        self.abandoned: list[str] = []
        self.hung_up: list[str] = []
        self.bridged: list[tuple[str, str]] = []
        self.legs: list[str] = []
        self.leg_callbacks: dict[str, ProgressCallback] = {}
        self.disconnected: list[str] = []
        self.answer_legs = True
        self.gone_legs: set[str] = set()
        """Legs the far end dropped that the worker has not heard about yet."""
        self.healthy = TrunkHealth(True)
        self.prompts: list[tuple[str, str]] = []
        self.recorded: list[tuple[str, Any]] = []
        self.monitored: list[tuple[str, str, str]] = []  # (call, leg, mode), in order
        self.unmonitored: list[tuple[str, str]] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for call_id in list(self.callbacks):
            self.end(call_id, "failed")

    def health(self) -> TrunkHealth:
        return self.healthy

    def status(self) -> TrunkStatus:
        return TrunkStatus(healthy=self.healthy.healthy, reason=self.healthy.reason)

    async def originate(self, request: OriginateRequest, on_progress: ProgressCallback) -> None:
        self.originated.append(request)
        self.callbacks[request.call_id] = on_progress
        self.progress(request.call_id, "dialing")

    def progress(self, call_id: str, phase: Any, outcome: str | None = None) -> None:
        self.callbacks[call_id](CallProgress(call_id, phase, T0, outcome=outcome))

    def answer(self, call_id: str) -> None:
        self.progress(call_id, "answered")

    def end(self, call_id: str, outcome: str) -> None:
        for recorded_id, sink in self.recorded:
            if recorded_id == call_id:
                sink.finish()
        callback = self.callbacks.pop(call_id, None)
        if callback is not None:
            callback(CallProgress(call_id, "ended", T0, outcome=outcome))

    @property
    def up(self) -> list[str]:
        return list(self.callbacks)

    async def hang_up(self, call_id: str) -> None:
        self.hung_up.append(call_id)
        self.end(call_id, "answered")

    async def play_and_hang_up(self, call_id: str) -> None:
        if call_id not in self.callbacks:
            raise CarrierError("gone")
        self.abandoned.append(call_id)
        self.end(call_id, "answered")

    async def connect_agent(self, request: AgentLegRequest, on_progress: ProgressCallback) -> None:
        self.legs.append(request.agent_leg_id)
        self.leg_callbacks[request.agent_leg_id] = on_progress
        if self.answer_legs:
            on_progress(CallProgress(request.agent_leg_id, "answered", T0))

    async def disconnect_agent(self, agent_leg_id: str) -> None:
        self.disconnected.append(agent_leg_id)

    async def bridge(self, call_id: str, agent_leg_id: str) -> None:
        if agent_leg_id in self.gone_legs:
            raise CarrierError(f"{agent_leg_id} is not an answered call")
        self.bridged.append((call_id, agent_leg_id))

    def end_leg(self, leg_id: str, status: int, reason: str, *, answered: bool) -> None:
        outcome = "answered" if answered else "busy"
        self.leg_callbacks[leg_id](
            CallProgress(leg_id, "ended", T0, outcome=outcome, sip_status=status, sip_reason=reason)
        )

    async def unbridge(self, call_id: str) -> None:
        pass

    async def monitor(self, call_id: str, leg_id: str, mode: str) -> None:
        if call_id not in self.callbacks or leg_id in self.gone_legs:
            raise CarrierError(f"{call_id} is not bridged")
        self.monitored.append((call_id, leg_id, mode))

    async def end_monitor(self, call_id: str, leg_id: str) -> None:
        self.unmonitored.append((call_id, leg_id))

    async def play_prompt(self, call_id: str, wav: str) -> None:
        if call_id not in self.callbacks:
            raise CarrierError("gone")
        self.prompts.append((call_id, wav))

    def take_inbound(self, handler: InboundHandler) -> None:
        self.inbound = handler

    def record(self, call_id: str, sink: Any) -> None:
        if call_id not in self.callbacks:
            raise CarrierError(f"{call_id} is not bridged")
        self.recorded.append((call_id, sink))


class RecordingBus:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.handlers: dict[str, list[Any]] = {}

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def publish_many(self, events: Sequence[Event]) -> None:
        for event in events:
            self.publish(event)

    def subscribe(self, event_type: str, handler: Any) -> None:
        self.handlers.setdefault(event_type, []).append(handler)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def ping(self) -> bool:
        return True

    def of(self, kind: type[Event]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]
