"""Dialer processes and which one dials which campaign.

Every dialer process signs in with an id of its own and a heartbeat; it
dials a campaign only while it holds that campaign's lease. A dialer that
stops renewing (killed, hung, cut off) loses its leases when they expire and
another dialer takes the campaign over, closing what the lost one left open
(`callcenter.services.dialer_fleet`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime


class DialerProcess(Base):
    __tablename__ = "dialer_processes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    trunk: Mapped[str] = mapped_column(String(120), default="default")
    """It dials only the campaigns whose `trunk` names this one."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trunk_status: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What its trunk said last: registration, OPTIONS answer and RTT, calls up."""


class CampaignLease(Base):
    """The one dialer allowed to dial a campaign until `expires_at`."""

    __tablename__ = "campaign_leases"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    dialer_id: Mapped[str] = mapped_column(String(32), index=True)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
