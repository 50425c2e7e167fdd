from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Numeric, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db import Base, UTCDateTime
from callcenter.models._types import created_at_column, enum_column
from callcenter.models.leads import Customer
from callcenter.states import AppointmentStatus


class MeetingKind(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"


class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), index=True)
    booked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    """The salesperson who holds the meeting (whose calendar it is in); the
    booking agent when the campaign's team has no salesperson."""
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[MeetingKind] = enum_column(MeetingKind)
    location: Mapped[str] = mapped_column(Text, default="")
    meeting_link: Mapped[str] = mapped_column(String(500), default="")
    contact_number: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[AppointmentStatus] = enum_column(
        AppointmentStatus, default=AppointmentStatus.BOOKED
    )
    sale_amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 0))
    """In the campaign's currency (rials), when the meeting was sold."""
    outcome_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    rescheduled_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id"), index=True
    )
    created_at: Mapped[datetime] = created_at_column()

    customer: Mapped[Customer] = relationship()


class AppointmentStatusChange(Base):
    """Each change of a meeting's status, by whom (the reports read these)."""

    __tablename__ = "appointment_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[AppointmentStatus | None] = enum_column(AppointmentStatus, nullable=True)
    to_status: Mapped[AppointmentStatus] = enum_column(AppointmentStatus)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CalendarSlot(Base):
    """One occupied slot of one calendar. The primary key makes a double
    booking impossible, whichever database and however many agents book."""

    __tablename__ = "calendar_slots"

    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )


class CallbackStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"
    MISSED = "missed"


class Callback(Base):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """None: booked by the system (a customer rang back and nobody was free)."""
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"))
    status: Mapped[CallbackStatus] = enum_column(CallbackStatus, default=CallbackStatus.PENDING)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_at_column()
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When its agent was told it is due (once; a reschedule clears it)."""


class FollowUpKind(StrEnum):
    EMAIL = "email"
    LETTER = "letter"


class FollowUpNotice(StrEnum):
    """What an e-mail tells of the meeting (and so its .ics METHOD)."""

    INVITE = "invite"  # booked: METHOD:REQUEST, the first SEQUENCE
    MOVED = "moved"  # a new time: METHOD:REQUEST, same UID, a higher SEQUENCE
    CANCELLED = "cancelled"  # METHOD:CANCEL, STATUS:CANCELLED


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class FollowUp(Base):
    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    kind: Mapped[FollowUpKind] = enum_column(FollowUpKind)
    locale: Mapped[str] = mapped_column(String(8))
    to_address: Mapped[str] = mapped_column(String(255), default="")
    subject: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[DeliveryStatus] = enum_column(DeliveryStatus, default=DeliveryStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at_column()
    notice: Mapped[FollowUpNotice] = enum_column(
        FollowUpNotice, default=FollowUpNotice.INVITE, server_default=FollowUpNotice.INVITE.value
    )
    to_salesperson: Mapped[bool] = mapped_column(default=False, server_default=false())
    """To the meeting's salesperson (else to the customer)."""
    ics_sequence: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    """The .ics SEQUENCE, fixed when queued so every retry carries the same."""
