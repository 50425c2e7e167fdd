from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db import Base, UTCDateTime
from callcenter.models._types import created_at_column, enum_column
from callcenter.models.leads import Customer, Lead
from callcenter.states import (
    AmdAction,
    AmdResult,
    CallDirection,
    CallOutcome,
    CallState,
    DispositionCategory,
)

# The calls whose part in the abandon tallies (direction, answered_at,
# outcome) can still change: not ended, or ended as a live answer or an
# abandon and still in its agent's wrap-up, where a disposition can make it a
# machine (`services.abandon_tallies`). Literal SQL, so that PostgreSQL sees
# a query with the same condition is covered by the partial index even when
# the statement is prepared.
OPEN_CALLS_SQL = (
    "state <> 'ended' OR (agent_id IS NOT NULL AND wrap_up_ended_at IS NULL"
    " AND outcome <> 'machine' AND (answered_at IS NOT NULL OR outcome = 'abandoned'))"
)


class Call(Base):
    """One dial attempt, from INVITE to the agent's wrap-up. Its id is the
    dialer's call id, so bus events and SIP logs name the same thing."""

    __tablename__ = "calls"
    __table_args__ = (
        # A campaign's calls by date; wide enough that the compliance
        # report's daily abandons read it alone, a campaign at a time, in
        # the order they are grouped in.
        Index(
            "ix_calls_campaign_dialed_outcome",
            "campaign_id",
            "dialed_at",
            "outcome",
            "answered_at",
            "direction",
        ),
        # The few calls still open, for the pacer's kept abandon tallies.
        Index(
            "ix_calls_open",
            "campaign_id",
            "dialed_at",
            postgresql_where=text(OPEN_CALLS_SQL),
            sqlite_where=text(OPEN_CALLS_SQL),
        ),
        Index("ix_calls_agent_dialed", "agent_id", "dialed_at"),
        Index("ix_calls_campaign_state", "campaign_id", "state"),
        Index("ix_calls_campaign_ended", "campaign_id", "ended_at"),  # the floor's recent calls
        # Every report selects a date range of calls (reports.filters).
        Index(
            "ix_calls_dialed_campaign_outcome",
            "dialed_at",
            "campaign_id",
            "outcome",
            "answered_at",
            "direction",
        ),
        UniqueConstraint("lead_id", "attempt"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    attempt: Mapped[int]
    phone_e164: Mapped[str] = mapped_column(String(20))
    is_preview: Mapped[bool] = mapped_column(default=False)
    is_manual: Mapped[bool] = mapped_column(default=False)
    """Dialed by an agent from the dial pad, a search or the customer's other number."""
    direction: Mapped[CallDirection] = enum_column(
        CallDirection, default=CallDirection.OUTBOUND, server_default=CallDirection.OUTBOUND.value
    )
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The agent who first talked to the customer, when the call was
    transferred to another (`agent_id` is then the one who closed it)."""
    state: Mapped[CallState] = enum_column(CallState, default=CallState.DIALING)
    outcome: Mapped[CallOutcome | None] = enum_column(CallOutcome, nullable=True)
    sip_status: Mapped[int | None]
    sip_reason: Mapped[str | None] = mapped_column(String(120))
    amd_result: Mapped[AmdResult | None] = enum_column(AmdResult, nullable=True)
    amd_decision_ms: Mapped[int | None]
    """From the answer to the answering-machine verdict."""
    amd_action: Mapped[AmdAction | None] = enum_column(AmdAction, nullable=True)
    dialed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wrap_up_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    script_version_id: Mapped[int | None] = mapped_column(ForeignKey("script_versions.id"))
    dialer_id: Mapped[str | None] = mapped_column(String(32))
    """The dialer process that placed the call (None: injected, not dialed)."""
    current_step: Mapped[int | None]
    max_step_reached: Mapped[int] = mapped_column(default=0)

    lead: Mapped[Lead] = relationship()
    customer: Mapped[Customer] = relationship()


class CallStateChange(Base):
    __tablename__ = "call_state_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    from_state: Mapped[CallState | None] = enum_column(CallState, nullable=True)
    to_state: Mapped[CallState] = enum_column(CallState)
    at: Mapped[datetime] = created_at_column()


class StepAction(StrEnum):
    ENTER = "enter"
    REJECT = "reject"


class StepOutcome(Base):
    """The script path of a call: every step entered (by next, back or jump)
    and, at most once per call, the step where the prospect said no."""

    __tablename__ = "step_outcomes"
    __table_args__ = (UniqueConstraint("call_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    seq: Mapped[int]
    step_number: Mapped[int]
    action: Mapped[StepAction] = enum_column(StepAction)
    via: Mapped[str] = mapped_column(String(16), default="next")
    reason_code: Mapped[str | None] = mapped_column(String(64))
    reason_text: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = created_at_column()


class DispositionCode(StrEnum):
    """The codes the product itself knows: each campaign starts with these
    (all but wrap_up_timeout), and a few carry a rule beyond their category
    (`dispositions.set_disposition`). Managers add their own beside them."""

    APPOINTMENT_SET = "appointment_set"
    CALLBACK = "callback"
    NOT_INTERESTED = "not_interested"
    WRONG_NUMBER = "wrong_number"
    DO_NOT_CALL = "do_not_call"
    NO_DECISION = "no_decision"
    SALE = "sale"
    ANSWERING_MACHINE = "answering_machine"  # the call counts as a machine, not a contact
    WRAP_UP_TIMEOUT = "wrap_up_timeout"  # set by the server: the wrap-up limit passed first


class Disposition(Base):
    __tablename__ = "dispositions"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), unique=True)
    code: Mapped[str] = mapped_column(String(32))
    """The campaign's code (campaign_dispositions.code) or wrap_up_timeout."""
    category: Mapped[DispositionCategory] = enum_column(
        DispositionCategory, server_default=DispositionCategory.FINAL.value
    )
    """The code's category when it was set: what it did to the lead then."""
    notes: Mapped[str] = mapped_column(Text, default="")
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = created_at_column()
