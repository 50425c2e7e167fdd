from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db import Base, UTCDateTime
from callcenter.models._types import JSONColumn, created_at_column, enum_column
from callcenter.models.campaigns import Campaign
from callcenter.states import ImportState, LeadState


class Customer(Base):
    """One person, found by phone number; their history follows them across campaigns."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_e164: Mapped[str] = mapped_column(String(20), unique=True)
    phone2_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    """Another number the customer gave (a lead file's second phone column,
    or an agent adds it); dialed by hand only."""
    title: Mapped[str] = mapped_column(String(32), default="")
    first_name: Mapped[str] = mapped_column(String(120), default="")
    last_name: Mapped[str] = mapped_column(String(120), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(Text, default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    locale: Mapped[str] = mapped_column(String(8), default="fa")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Tehran", index=True)
    created_at: Mapped[datetime] = created_at_column()


class LeadList(Base):
    """One imported file."""

    __tablename__ = "lead_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_imported: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSONColumn, default=dict)
    is_enabled: Mapped[bool] = mapped_column(default=True)
    """A disabled list's leads are never offered nor claimed for dialing."""
    created_at: Mapped[datetime] = created_at_column()


class DncHitSource(StrEnum):
    IMPORT = "import"  # a number left out of a lead file because it is on a DNC list
    CLAIM = "claim"  # a dial refused at the last check before dialing


class DncHit(Base):
    """A call that was not made because the number is on a do-not-call list
    ("DNC hits prevented" in the compliance report)."""

    __tablename__ = "dnc_hits"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    phone_e164: Mapped[str] = mapped_column(String(20))
    source: Mapped[DncHitSource] = enum_column(DncHitSource)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    lead_list_id: Mapped[int | None] = mapped_column(ForeignKey("lead_lists.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LeadImport(Base):
    """The background import of one LeadList's file. Rows are written in
    chunks, each committed with the counters here (and its part of the report
    in LeadImportChunk), so a worker that takes over from a lost one goes on
    after the last committed chunk. `worker` holds the job while its
    `heartbeat_at` is fresh."""

    __tablename__ = "lead_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_list_id: Mapped[int] = mapped_column(ForeignKey("lead_lists.id"), unique=True)
    state: Mapped[ImportState] = enum_column(ImportState, default=ImportState.QUEUED, index=True)
    mapping: Mapped[dict[str, str] | None] = mapped_column(JSONColumn)
    # How the manager chose to read the file (sheet, header_line, delimiter);
    # None: detected, as the preview showed it.
    options: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    region: Mapped[str] = mapped_column(String(8))
    rows_expected: Mapped[int | None] = mapped_column()
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_imported: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    chunks_done: Mapped[int] = mapped_column(default=0)
    tries: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str | None] = mapped_column(String(120))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LeadImportFile(Base):
    """The uploaded file, in the database so whichever process runs the
    import (on whichever host) can read it; removed when the import ends."""

    __tablename__ = "lead_import_files"

    import_id: Mapped[int] = mapped_column(ForeignKey("lead_imports.id"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LeadImportChunk(Base):
    """One committed chunk's part of the report (rows by line); joined into
    LeadList.report when the import ends, then removed."""

    __tablename__ = "lead_import_chunks"

    import_id: Mapped[int] = mapped_column(ForeignKey("lead_imports.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    tally: Mapped[dict[str, Any]] = mapped_column(JSONColumn)


class Lead(Base):
    """A customer's place in one campaign."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        Index("ix_leads_dialable", "campaign_id", "state", "next_attempt_at"),
        # The hopper's dial order within a group (state, priority): the due
        # ones by due time, the never-scheduled ones by creation.
        Index("ix_leads_dial_due", "campaign_id", "state", "priority", "next_attempt_at", "id"),
        Index(
            "ix_leads_dial_fresh",
            "campaign_id",
            "state",
            "priority",
            "created_at",
            "id",
            sqlite_where=text("next_attempt_at IS NULL"),
            postgresql_where=text("next_attempt_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    lead_list_id: Mapped[int | None] = mapped_column(ForeignKey("lead_lists.id"), index=True)
    state: Mapped[LeadState] = enum_column(LeadState, default=LeadState.NEW)
    priority: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    attempts_before_reset: Mapped[int] = mapped_column(default=0)
    """Attempts made before a manager recycled or reset the lead: the
    campaign's max attempts count from here (`attempts` keeps numbering the
    calls)."""
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_outcome: Mapped[str | None] = mapped_column(String(24))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONColumn, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()

    campaign: Mapped[Campaign] = relationship()
    customer: Mapped[Customer] = relationship()


class LeadStateChange(Base):
    __tablename__ = "lead_state_changes"
    # The compliance report counts moves to `dnc` in a date range.
    __table_args__ = (Index("ix_lead_state_changes_to_state_at", "to_state", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    from_state: Mapped[LeadState | None] = enum_column(LeadState, nullable=True)
    to_state: Mapped[LeadState] = enum_column(LeadState)
    reason: Mapped[str] = mapped_column(String(255), default="")
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"))
    at: Mapped[datetime] = created_at_column()


class DncEntry(Base):
    """Do-not-call: global when campaign_id is NULL, else for one campaign."""

    __tablename__ = "dnc_entries"
    __table_args__ = (
        UniqueConstraint("phone_e164", "campaign_id"),
        Index(
            "uq_dnc_entries_global_phone",
            "phone_e164",
            unique=True,
            sqlite_where=text("campaign_id IS NULL"),
            postgresql_where=text("campaign_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_e164: Mapped[str] = mapped_column(String(20), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    source: Mapped[str] = mapped_column(String(32), default="manual")
    reason: Mapped[str] = mapped_column(String(255), default="")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = created_at_column()


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
