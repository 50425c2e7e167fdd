"""A call handed from one agent to another agent, a team or an outside number."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime
from callcenter.models._types import enum_column
from callcenter.states import TransferKind, TransferState, TransferTarget


class CallTransfer(Base):
    """One transfer of a live call; its states follow TRANSFER_TRANSITIONS."""

    __tablename__ = "call_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    kind: Mapped[TransferKind] = enum_column(TransferKind)
    target: Mapped[TransferTarget] = enum_column(TransferTarget)
    state: Mapped[TransferState] = enum_column(TransferState, default=TransferState.REQUESTED)
    from_agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    to_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    """The agent who took the call (for a team, the one picked)."""
    to_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    to_number: Mapped[str | None] = mapped_column(String(20))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(120))
    """Why it failed or was cancelled."""
