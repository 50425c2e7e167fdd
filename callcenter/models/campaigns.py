from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ForeignKey, Numeric, String, Table, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db import Base
from callcenter.models._types import JSONColumn, created_at_column, enum_column
from callcenter.models.users import Team
from callcenter.states import DispositionCategory


class DialMode(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


class AmdMode(StrEnum):
    """Answering-machine detection: off, hang up on machines, or leave them a message."""

    OFF = "off"
    HANGUP = "hangup"
    MESSAGE = "message"


class RecordingMode(StrEnum):
    """What a campaign records: nothing, every bridged call, or what someone asks for."""

    OFF = "off"
    ALL = "all"
    ON_DEMAND = "on_demand"


class CampaignStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


campaign_teams = Table(
    "campaign_teams",
    Base.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
)


class ScriptVersion(Base):
    """A call script as loaded from `scripts/`; immutable once a call used it."""

    __tablename__ = "script_versions"
    __table_args__ = (UniqueConstraint("key", "locale", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    locale: Mapped[str] = mapped_column(String(8))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONColumn, deferred=True)
    """Read when first used: the parsed script is cached by id, key and version
    (`scripts_catalog.script_of`), so a call's every move reads the row, not this."""
    source_name: Mapped[str | None] = mapped_column(String(255))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = created_at_column()


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    company_name: Mapped[str] = mapped_column(String(200), default="")
    product: Mapped[str] = mapped_column(String(200), default="")
    script_version_id: Mapped[int | None] = mapped_column(ForeignKey("script_versions.id"))
    dial_mode: Mapped[DialMode] = enum_column(DialMode, default=DialMode.PROGRESSIVE)
    status: Mapped[CampaignStatus] = enum_column(CampaignStatus, default=CampaignStatus.PAUSED)
    abandon_cap_percent: Mapped[Decimal] = mapped_column(Numeric(4, 2), default=Decimal("3.00"))
    abandon_window_days: Mapped[int] = mapped_column(default=30)
    max_lines_per_agent: Mapped[int] = mapped_column(default=3)
    ring_timeout_seconds: Mapped[int] = mapped_column(default=25)
    wrap_up_limit_seconds: Mapped[int] = mapped_column(default=60)
    auto_ready_after_wrap_up: Mapped[bool] = mapped_column(default=True)
    preview_timeout_seconds: Mapped[int | None] = mapped_column()
    callback_open_after_minutes: Mapped[int] = mapped_column(default=15, server_default="15")
    """A callback booked for one agent goes to any agent once it is this late."""
    caller_id: Mapped[str] = mapped_column(String(32), default="")
    inbound_wait_seconds: Mapped[int] = mapped_column(default=20, server_default="20")
    """How long a customer ringing the caller ID back waits for a free agent
    before the message and an automatic callback."""
    trunk: Mapped[str] = mapped_column(String(120), default="default")
    amd_mode: Mapped[AmdMode] = enum_column(AmdMode, default=AmdMode.OFF)
    voicemail_wav: Mapped[str] = mapped_column(String(255), default="")
    """The message AMD "message" leaves on machines; "" is the one the dialer ships."""
    recording_mode: Mapped[RecordingMode] = enum_column(RecordingMode, default=RecordingMode.OFF)
    recording_consent: Mapped[bool] = mapped_column(default=True)
    """Play the consent notice to the customer at answer, before the agent is bridged."""
    consent_wav: Mapped[str] = mapped_column(String(255), default="")
    """A consent notice on the dialer's disk (set from the CLI); "" is the shipped one."""
    consent_wav_key: Mapped[str | None] = mapped_column(String(255))
    """The notice a manager uploaded, in the recording store; it comes before consent_wav."""
    recording_retention_days: Mapped[int | None] = mapped_column()
    """Recordings older than this are deleted (None: kept)."""
    monitor_listen_hidden: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Agents are not shown that a supervisor listens (whisper and barge always show)."""
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Tehran")
    calling_windows: Mapped[dict[str, Any]] = mapped_column(JSONColumn, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSONColumn, default=list)
    max_attempts: Mapped[int] = mapped_column(default=5)
    retry_delays_minutes: Mapped[dict[str, int]] = mapped_column(JSONColumn, default=dict)
    follow_up_letter_after_days: Mapped[int] = mapped_column(default=3)
    reminder_minutes: Mapped[list[int]] = mapped_column(
        JSONColumn, default=list, server_default="[]"
    )
    """E-mail the customer this many minutes before each meeting (several
    reminders: several numbers)."""
    sms_templates: Mapped[dict[str, str]] = mapped_column(
        JSONColumn, default=dict, server_default="{}"
    )
    """The SMS texts by occasion (booking, callback, reminder) with the
    script's placeholders; an occasion without a text sends no SMS."""
    created_at: Mapped[datetime] = created_at_column()

    script_version: Mapped[ScriptVersion | None] = relationship()
    teams: Mapped[list[Team]] = relationship(secondary=campaign_teams)


class CampaignDisposition(Base):
    """A disposition an agent of the campaign may choose. Never deleted once
    a call used it (deactivated instead): reports show its label."""

    __tablename__ = "campaign_dispositions"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    label_fa: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    category: Mapped[DispositionCategory] = enum_column(DispositionCategory)
    retry_minutes: Mapped[int | None]
    """For retry: minutes until the lead is dialed again (None: the campaign's delay)."""
    position: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
