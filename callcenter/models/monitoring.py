"""Supervisors on live calls: listen, whisper, barge (callcenter.services.call_monitoring)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime
from callcenter.models._types import enum_column
from callcenter.states import MonitorMode, MonitorState


class MonitorSession(Base):
    """One supervisor on one call, from the request to the end; the mode may
    change on the way (each change is in the audit log)."""

    __tablename__ = "monitor_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    mode: Mapped[MonitorMode] = enum_column(MonitorMode)
    state: Mapped[MonitorState] = enum_column(MonitorState, default=MonitorState.CALLING)
    phone: Mapped[str] = mapped_column(String(255))
    """What the dialer calls: the supervisor's SIP URI or their browser phone."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    """supervisor, call_ended, phone_hung_up, phone_failed, dialer_lost."""

    @property
    def leg_id(self) -> str:
        """The dialer's id of the supervisor's phone leg for this session."""
        return f"monitor-{self.id}"
