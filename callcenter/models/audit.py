from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime
from callcenter.models._types import JSONColumn, created_at_column


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = created_at_column()
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONColumn, default=dict)
    ip_address: Mapped[str | None] = mapped_column(String(64))


class ProcessedEvent(Base):
    """Bus events a handler has applied, so redelivery changes nothing."""

    __tablename__ = "processed_events"
    # Pruning deletes the oldest rows (bus_pruning).
    __table_args__ = (Index("ix_processed_events_processed_at", "processed_at"),)

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    handler: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = created_at_column()


class DialLevelChange(Base):
    """The pacer's audit trail: every change of dial level and why."""

    __tablename__ = "dial_level_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    dial_level: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    reason: Mapped[str] = mapped_column(Text)
