from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, false, text
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime
from callcenter.models._types import created_at_column, enum_column
from callcenter.states import AgentState, PhoneLegState


class PauseReason(Base):
    __tablename__ = "pause_reasons"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label_fa: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    limit_minutes: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    is_paid: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    """Paid pause time counts as work time in the agents report."""
    position: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    """Order in the agent's pause menu."""
    is_system: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Set by the product (e.g. phone_lost), never chosen by an agent or a supervisor."""


class AgentStatus(Base):
    """Each agent's current state; the history is in agent_state_changes."""

    __tablename__ = "agent_status"
    # The version each write gives the row comes back with the UPDATE
    # (RETURNING), not with a SELECT when the state payload reads it.
    __mapper_args__ = {"eager_defaults": True}

    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    state: Mapped[AgentState] = enum_column(AgentState, default=AgentState.LOGGED_OUT)
    since: Mapped[datetime] = created_at_column()
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    pause_reason: Mapped[str | None] = mapped_column(ForeignKey("pause_reasons.code"))
    current_call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"))
    phone_leg_id: Mapped[str | None] = mapped_column(String(64))
    """The dialer's id of the agent's nailed-up phone leg (the phone itself is users.sip_uri)."""
    phone_leg: Mapped[PhoneLegState] = enum_column(
        PhoneLegState, default=PhoneLegState.DOWN, server_default=PhoneLegState.DOWN.value
    )
    phone_leg_detail: Mapped[str | None] = mapped_column(String(120))
    """Why the leg was lost (the SIP status and reason), shown to the agent."""
    pause_after_call: Mapped[str | None] = mapped_column(String(32))
    """A pause asked for on a call or in wrap-up: where the wrap-up ends instead of Ready."""
    pause_forced_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The supervisor whose pause waits for the call's end: the agent's Ready
    does not withdraw it."""
    log_out_after_call: Mapped[bool] = mapped_column(default=False, server_default=false())
    """The session ended (or the account was deactivated) during a call: logged
    out when its wrap-up ends."""
    version: Mapped[int] = mapped_column(
        default=0, server_default=text("0"), onupdate=text("version + 1")
    )
    """Goes up by one with every write of the row, in the UPDATE itself (so two
    writers never take the same number): each state payload carries it, and
    the agent's screen never goes back to an older one (a reply can arrive
    after a newer push)."""


class AgentStateChange(Base):
    __tablename__ = "agent_state_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    from_state: Mapped[AgentState] = enum_column(AgentState)
    to_state: Mapped[AgentState] = enum_column(AgentState)
    reason: Mapped[str | None] = mapped_column(String(64))
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
