"""Call recordings and the QA scorecards supervisors fill in while listening."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db import Base, UTCDateTime
from callcenter.models._types import JSONColumn, created_at_column, enum_column
from callcenter.models.calls import Call


class RecordingStatus(StrEnum):
    RECORDING = "recording"
    STORED = "stored"
    FAILED = "failed"
    DELETED = "deleted"  # the retention period passed; the row stays as the audit trail
    UPLOAD_PENDING = "upload_pending"  # the store refused it; the dialer uploads it again


class CallRecording(Base):
    """One stereo file per call (customer left, agent right), from bridge to hang-up."""

    __tablename__ = "call_recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    status: Mapped[RecordingStatus] = enum_column(
        RecordingStatus, default=RecordingStatus.RECORDING
    )
    trigger: Mapped[str] = mapped_column(String(16), default="campaign")
    """campaign (records every call), agent or supervisor (on demand)."""
    consent_played: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_key: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(40), default="audio/flac")
    legal_hold: Mapped[bool] = mapped_column(default=False)
    failure_reason: Mapped[str | None] = mapped_column(String(255))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    call: Mapped[Call] = relationship()


class QaScorecard(Base):
    """A campaign's QA form: checkpoints with points, some of which fail the call outright."""

    __tablename__ = "qa_scorecards"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), unique=True)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONColumn, default=list)
    """[{"key": "greeting", "label": "...", "points": 10, "auto_fail": false}, ...]"""
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = created_at_column()


class QaScore(Base):
    """A supervisor's scoring of one recorded call."""

    __tablename__ = "qa_scores"
    __table_args__ = (UniqueConstraint("call_id", "scorer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scorer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    checked: Mapped[list[str]] = mapped_column(JSONColumn, default=list)
    """Keys of the checkpoints met."""
    points: Mapped[int]
    max_points: Mapped[int]
    auto_failed: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    scored_at: Mapped[datetime] = created_at_column()
