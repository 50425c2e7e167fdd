"""The narrow port between the dialer worker and the rest of the product.

The worker decides and places calls; everything it needs to read or write in
the database goes through :class:`DialerServices` (implemented over
`callcenter.services` by :mod:`dialer.db_port`, and by in-memory fakes in
tests), leads come from a :class:`LeadSource` (the hopper), and every call
progress goes out as a typed bus event (`callcenter.events`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from dialer.carrier import AmdMode


class Mode(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


class AgentPhase(StrEnum):
    """The agent states the worker cares about (callcenter.states.AgentState values)."""

    READY = "ready"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


@dataclass(frozen=True)
class CampaignPlan:
    """An active campaign as the worker dials it."""

    id: int
    mode: Mode
    caller_id: str = ""
    caller_name: str | None = None  # From display name; the trunk's default when None
    trunk: str = "default"
    ring_timeout_s: float = 25.0
    max_lines_per_agent: float = 3.0
    abandon_cap: float = 0.03
    preview_timeout_s: float | None = None
    amd: AmdMode = AmdMode.OFF
    voicemail_wav: str | None = None  # the campaign's own message (None: the shipped one)
    wrap_up_limit_s: float | None = None
    """An agent in wrap-up longer than this is not about to be free (the
    server pauses them at the next sweep)."""
    locale: str | None = None  # its script's language (fa, en)
    recording: str = "off"  # off | all | on_demand
    recording_consent: bool = True  # the recording notice at answer, before the agent
    consent_wav: str | None = None  # the campaign's own notice (None: the shipped one)
    consent_wav_key: str | None = None  # an uploaded notice in the recording store (first)
    inbound_wait_s: float = 20.0
    """A customer ringing the caller ID back waits this long for a free agent."""


@dataclass(frozen=True)
class AgentSnapshot:
    """A logged-in agent as the database has it now."""

    agent_id: int
    campaign_id: int
    phase: AgentPhase
    since: datetime
    phone: str | None = None
    """The agent's phone as they typed it (a SIP URI or an extension), whole."""
    call_id: str | None = None


@dataclass(frozen=True)
class ClaimedLead:
    """A lead whose attempt is claimed in the database (DIALING): dial it now."""

    lead_id: int
    campaign_id: int
    attempt: int
    phone_e164: str
    claim_id: int | None = None
    """The claim's lead_state_changes row when the workstation made it (an
    agent's manual dial): the call is placed only while that claim stands."""


@dataclass(frozen=True)
class HeldLead:
    """A lead leased from the hopper but not claimed yet (on a preview screen)."""

    lead_id: int
    campaign_id: int
    lease: Any = None


@dataclass(frozen=True)
class Tally:
    live_answers: int = 0
    abandoned: int = 0


class DialerServices(Protocol):
    @property
    def dialer_id(self) -> str:
        """This dialer process's id, carried on every `call.dialing`."""

    def sign_in(self, *, now: datetime) -> None:
        """Join the dialers (one per process, with its own id and heartbeat)."""

    def hold_campaigns(self, *, now: datetime) -> Sequence[CampaignPlan]:
        """Heartbeat; renew and take campaign leases. The active campaigns
        this dialer may dial now (each is dialed by one dialer at a time)."""

    def recover_lost_work(self, campaign_ids: Sequence[int], *, now: datetime) -> str:
        """Close what lost dialers left open in these (held) campaigns; a
        one-line summary for the log, empty when there was nothing."""

    def report_trunk_status(self, status: dict[str, Any], *, now: datetime) -> None:
        """Keep the trunk's status where operators and the CLI can read it."""

    def sign_off(self, *, now: datetime) -> None:
        """A clean stop: give the campaigns back at once."""

    def open_call(
        self,
        call_id: str,
        lead: ClaimedLead,
        *,
        agent_id: int | None,
        now: datetime,
        is_manual: bool = False,
    ) -> None:
        """Write the calls row (DIALING) before the call is dialed."""

    def open_calls(self, opening: Sequence[tuple[str, ClaimedLead]], *, now: datetime) -> None:
        """`open_call` for several calls with no agent (call id, lead), in one
        transaction: all of the rows are written, or none."""

    def open_inbound_call(
        self, call_id: str, campaign_id: int, caller: str, *, now: datetime
    ) -> ClaimedLead | None:
        """A customer rang the campaign's number: their lead's attempt claimed
        (the customer and lead added when unknown) and the calls row written;
        None when the caller's number cannot be read (then it is not answered)."""

    def agents(self) -> Sequence[AgentSnapshot]:
        """Every agent on a campaign who is not logged out."""

    def reserve_agent(
        self, agent_id: int, *, call_id: str | None, now: datetime, reason: str
    ) -> bool:
        """READY -> RESERVED; False when the agent is not ready any more. The
        rest of the agent's day follows from the call events (calls service)."""

    def release_agent(self, agent_id: int, *, now: datetime, reason: str) -> None:
        """RESERVED -> READY (the call went before the agent got it); no-op
        otherwise. An agent whose phone leg is lost lands in the phone_lost pause."""

    def phone_leg_calling(self, agent_id: int, leg_id: str) -> bool:
        """The agent's phone is about to be called as `leg_id`; False when
        the agent is not ready any more (then it is not called)."""

    def phone_leg_answered(self, agent_id: int, leg_id: str) -> None: ...

    def phone_leg_hung_up(self, agent_id: int, leg_id: str) -> None:
        """This dialer hung the leg up itself (not a loss)."""

    def phone_leg_lost(
        self, agent_id: int, leg_id: str | None, *, reason: str, now: datetime
    ) -> None:
        """The leg failed or dropped (None: no leg up when a call was to be
        connected to the agent): the agent goes to the phone_lost pause, at
        once when idle, after their call and wrap-up when they have one."""

    def record_dial_level(
        self, campaign_id: int, dial_level: float, reason: str, *, now: datetime
    ) -> None: ...

    def abandon_tallies(self, campaign_id: int, *, now: datetime) -> tuple[Tally, Tally]:
        """(today, rolling window)."""

    def recover(self, *, now: datetime, older_than_s: float) -> str:
        """Close what a previous run left open; a one-line summary for the log."""

    def sweep_floor(self, *, now: datetime) -> str:
        """Close wrap-ups past their limit (the server's default disposition,
        the agent paused) and log out deactivated agents; a one-line summary
        for the log, empty when there was nothing."""


class LeadSource(Protocol):
    """The hopper as the worker sees it (leases, refilled from the database)."""

    def refill(self, campaign_ids: Sequence[int], *, now: datetime) -> None: ...

    def rebuild(self, campaign_ids: Sequence[int], *, now: datetime) -> None:
        """Empty these campaigns' queues (leases too) and fill them again from
        the database: for a dialer taking campaigns up, the only one to claim."""

    def next_leads(self, campaign_id: int, count: int, *, now: datetime) -> list[ClaimedLead]:
        """Up to `count` leads that passed the database's final guard
        (claim_attempt), claimed in one transaction; refused leads are dropped
        and others tried. Fewer (or none) when the queue runs out."""

    def hold(self, campaign_id: int, *, agent_id: int, now: datetime) -> HeldLead | None:
        """Lease a lead for a preview (the agent's own callbacks first)."""

    def with_own_callbacks(self, campaign_id: int, agent_ids: Sequence[int]) -> set[int]:
        """Those of these agents with a due callback queued for them alone (one
        cheap look for all of them, no claim)."""

    def own_callback(self, campaign_id: int, *, agent_id: int, now: datetime) -> ClaimedLead | None:
        """Claim a due callback booked for this agent alone; None when none is queued."""

    def claim_stands(self, claimed: ClaimedLead) -> bool:
        """The workstation's claim (`claim_id`) is still the lead's latest
        change, and its attempt not dialed: placing the call dials it once."""

    def give_back_unplaced(self, claimed: ClaimedLead, *, reason: str, now: datetime) -> None:
        """Undo the workstation's claim of a lead whose call was never
        placed (an agent's manual dial that no dialer could place)."""

    def claim_held(self, held: HeldLead, *, now: datetime) -> ClaimedLead | None:
        """Claim a held lead's attempt; None when the guard refuses it."""

    def give_back(self, held: HeldLead) -> None:
        """Return a held lead to the hopper undialed."""

    def depth(self, campaign_id: int) -> int:
        """Leads queued for the campaign right now."""
