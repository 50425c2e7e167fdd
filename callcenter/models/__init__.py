"""All models, imported here so metadata is complete for Alembic and tests."""

from callcenter.models.agents import AgentStateChange, AgentStatus, PauseReason
from callcenter.models.audit import AuditEntry, DialLevelChange, ProcessedEvent
from callcenter.models.calls import (
    Call,
    CallStateChange,
    Disposition,
    DispositionCode,
    StepAction,
    StepOutcome,
)
from callcenter.models.campaigns import (
    AmdMode,
    Campaign,
    CampaignStatus,
    DialMode,
    ScriptVersion,
    campaign_teams,
)
from callcenter.models.fleet import CampaignLease, DialerProcess
from callcenter.models.leads import (
    Customer,
    DncEntry,
    Lead,
    LeadImport,
    LeadImportChunk,
    LeadImportFile,
    LeadList,
    LeadStateChange,
    Note,
)
from callcenter.models.scheduling import (
    Appointment,
    AppointmentStatus,
    CalendarSlot,
    Callback,
    CallbackStatus,
    DeliveryStatus,
    FollowUp,
    FollowUpKind,
    MeetingKind,
)
from callcenter.models.users import Team, User, UserSession, supervised_teams

__all__ = [
    "AgentStateChange",
    "AgentStatus",
    "AmdMode",
    "Appointment",
    "AppointmentStatus",
    "AuditEntry",
    "CalendarSlot",
    "Call",
    "CallStateChange",
    "Callback",
    "CallbackStatus",
    "Campaign",
    "CampaignLease",
    "CampaignStatus",
    "Customer",
    "DeliveryStatus",
    "DialLevelChange",
    "DialMode",
    "DialerProcess",
    "Disposition",
    "DispositionCode",
    "DncEntry",
    "FollowUp",
    "FollowUpKind",
    "Lead",
    "LeadImport",
    "LeadImportChunk",
    "LeadImportFile",
    "LeadList",
    "LeadStateChange",
    "MeetingKind",
    "Note",
    "PauseReason",
    "ProcessedEvent",
    "ScriptVersion",
    "StepAction",
    "StepOutcome",
    "Team",
    "User",
    "UserSession",
    "campaign_teams",
    "supervised_teams",
]
