"""Typed bus events. Every event has a unique id so handlers can be idempotent,
and round-trips through a plain dict (for Redis Streams and for logs)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from callcenter.db import utcnow


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    TYPE: ClassVar[str] = ""
    event_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: datetime = dataclasses.field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat()
        data["type"] = self.TYPE
        return data


EVENT_TYPES: dict[str, type[Event]] = {}
E = TypeVar("E", bound=type[Event])


def event_type(cls: E) -> E:
    if cls.TYPE in EVENT_TYPES:
        raise ValueError(f"event type {cls.TYPE} registered twice")
    EVENT_TYPES[cls.TYPE] = cls
    return cls


def event_from_dict(data: dict[str, Any]) -> Event:
    fields = dict(data)
    cls = EVENT_TYPES[fields.pop("type")]
    fields["occurred_at"] = datetime.fromisoformat(fields["occurred_at"])
    return cls(**fields)


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class CallDialing(Event):
    TYPE: ClassVar[str] = "call.dialing"
    call_id: str
    campaign_id: int
    lead_id: int
    attempt: int
    agent_id: int | None = None  # preview calls have their agent from the start
    dialer_id: str | None = None  # the dialer process placing it (None: injected)
    phone_e164: str | None = None  # the number dialed (None: the customer's first number)
    is_manual: bool = False  # an agent dialed it by hand
    direction: str = "outbound"  # inbound: a customer rang the campaign's number back


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class CallRinging(Event):
    TYPE: ClassVar[str] = "call.ringing"
    call_id: str


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class CallAnswered(Event):
    """A person answered (or answering-machine detection was not sure, or was off)."""

    TYPE: ClassVar[str] = "call.answered"
    call_id: str
    amd_result: str | None = None  # human / not_sure; None when the campaign's AMD is off
    amd_decision_ms: int | None = None  # from the answer to the verdict
    amd_action: str | None = None  # passed_to_agent


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class CallConnected(Event):
    TYPE: ClassVar[str] = "call.connected"
    call_id: str
    agent_id: int


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class CallEnded(Event):
    TYPE: ClassVar[str] = "call.ended"
    call_id: str
    outcome: str
    sip_status: int | None = None
    sip_reason: str | None = None
    agent_id: int | None = None  # the agent the dialer connected it to, if it did
    talk_seconds: float | None = None  # connected for this long before the end
    # A machine that answering-machine detection caught (it was never call.answered):
    answered_seconds: float | None = None  # answered this long before the end
    amd_result: str | None = None  # machine
    amd_decision_ms: int | None = None
    amd_action: str | None = None  # hung_up / message_played; None: it hung up first


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentStateChanged(Event):
    TYPE: ClassVar[str] = "agent.state_changed"
    agent_id: int
    campaign_id: int | None
    from_state: str
    to_state: str
    reason: str | None = None


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class PreviewOffered(Event):
    """Preview mode: the hopper gives an agent a lead to look at before dialing."""

    TYPE: ClassVar[str] = "preview.offered"
    agent_id: int
    campaign_id: int
    lead_id: int


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class PreviewCallRequested(Event):
    """The agent asked for the previewed lead to be dialed (the dialer places it)."""

    TYPE: ClassVar[str] = "preview.call_requested"
    agent_id: int
    campaign_id: int
    lead_id: int


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class ManualDialRequested(Event):
    """An agent dialed a number by hand (checked against DNC and the calling
    window, the agent held for it and the lead claimed for `attempt`); the
    dialer places it as a call for them while the claim stands, or gives
    the claim back."""

    TYPE: ClassVar[str] = "manual_dial.requested"
    agent_id: int
    campaign_id: int
    lead_id: int
    phone_e164: str
    attempt: int
    claim_id: int  # the lead_state_changes row of the claim
    passed_on: int = 0  # by dialers that do not hold the campaign (they share one group)


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class PreviewSkipped(Event):
    """The agent passed on the previewed lead; the hopper may release it."""

    TYPE: ClassVar[str] = "preview.skipped"
    agent_id: int
    campaign_id: int
    lead_id: int
    reason: str


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class CallHangupRequested(Event):
    """The agent pressed hang up; the dialer ends the customer leg."""

    TYPE: ClassVar[str] = "call.hangup_requested"
    call_id: str
    agent_id: int


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class RecordingRequested(Event):
    """An agent (their own call) or a supervisor asked to record a call now
    (campaigns that record on demand); the dialer starts it at the bridge."""

    TYPE: ClassVar[str] = "recording.requested"
    call_id: str
    requested_by: int
    trigger: str  # agent | supervisor


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class RecordingStarted(Event):
    TYPE: ClassVar[str] = "recording.started"
    call_id: str
    campaign_id: int
    trigger: str  # campaign | agent | supervisor
    consent_played: bool


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class RecordingFinished(Event):
    """The file is in the store (``stored``), or the recording failed and why."""

    TYPE: ClassVar[str] = "recording.finished"
    call_id: str
    stored: bool
    duration_ms: int
    size_bytes: int | None = None
    sha256: str | None = None
    storage_key: str | None = None
    media_type: str = "audio/flac"
    failure_reason: str | None = None
    retrying: bool = False
    """Not stored yet: the dialer keeps the file and uploads it again (a
    later recording.finished says stored, or failed for good)."""


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class FollowUpQueued(Event):
    """A confirmation email was queued; wakes the sender."""

    TYPE: ClassVar[str] = "follow_up.queued"
    follow_up_id: int


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class PacerLevelChanged(Event):
    """The pacer moved a campaign's dial level (also kept in dial_level_changes)."""

    TYPE: ClassVar[str] = "pacer.level_changed"
    campaign_id: int
    dial_level: float
    reason: str


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class DialingHeld(Event):
    """The dialer stopped (held) or resumed placing calls on a trunk, and why:
    the supervisor screen shows it (e.g. the trunk stopped answering OPTIONS)."""

    TYPE: ClassVar[str] = "dialer.dialing_held"
    trunk: str
    held: bool
    reason: str


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class TrunkStatusReported(Event):
    """A dialer's trunk: registration, the last OPTIONS answer and its RTT, calls
    up (sent when it changes and every few seconds)."""

    TYPE: ClassVar[str] = "dialer.trunk_status"
    dialer_id: str
    trunk: str
    status: dict[str, Any]


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class HopperDepth(Event):
    """How many leads a campaign has queued in the dialer's hopper (sent on change)."""

    TYPE: ClassVar[str] = "dialer.hopper_depth"
    campaign_id: int
    depth: int


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class TransferRequested(Event):
    """An agent hands their live call on (the transfers service checked it and
    reserved the target agent): the dialer moves the media."""

    TYPE: ClassVar[str] = "transfer.requested"
    transfer_id: int
    call_id: str
    kind: str  # blind | warm
    from_agent_id: int
    to_agent_id: int | None = None
    to_number: str | None = None  # E.164, for an outside number
    caller_id: str = ""  # what the outside number sees (the campaign's caller ID)
    passed_on: int = 0  # by dialers that do not carry the call (they share one group)


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class MonitorRequested(Event):
    """A supervisor asked to hear a live call (callcenter.services.call_monitoring);
    the dialer holding the call calls their phone and joins it to the call."""

    TYPE: ClassVar[str] = "monitor.requested"
    session_id: int
    call_id: str
    supervisor_id: int
    phone: str  # the SIP URI the dialer calls (a desk phone, or the browser phone)
    mode: str  # listen / whisper / barge
    passed_on: int = 0  # by dialers that do not hold the call (they share one group)


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class TransferActionRequested(Event):
    """During a warm transfer's consult: hand over, join all three, or cancel."""

    TYPE: ClassVar[str] = "transfer.action_requested"
    transfer_id: int
    call_id: str
    action: str  # hand_over | join | cancel
    passed_on: int = 0  # by dialers that do not carry the call (they share one group)


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class MonitorModeChanged(Event):
    """The supervisor switched mode; the dialer changes the mix, same phone leg."""

    TYPE: ClassVar[str] = "monitor.mode_changed"
    session_id: int
    call_id: str
    mode: str
    passed_on: int = 0


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class TransferProgressed(Event):
    """What the dialer did: consulting, joined, completed, cancelled or failed."""

    TYPE: ClassVar[str] = "transfer.progressed"
    transfer_id: int
    call_id: str
    state: str
    reason: str | None = None


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class MonitorStopRequested(Event):
    """The supervisor stopped; the dialer takes their leg out and hangs it up."""

    TYPE: ClassVar[str] = "monitor.stop_requested"
    session_id: int
    call_id: str
    passed_on: int = 0


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class MonitorStarted(Event):
    """The supervisor's phone answered and hears the call (the dialer reports)."""

    TYPE: ClassVar[str] = "monitor.started"
    session_id: int
    call_id: str


@event_type
@dataclasses.dataclass(frozen=True, kw_only=True)
class MonitorEnded(Event):
    """The supervisor's leg is gone (the dialer reports): hung up by them or by
    us, never answered, or the call itself ended."""

    TYPE: ClassVar[str] = "monitor.ended"
    session_id: int
    call_id: str
    reason: str  # phone_hung_up / phone_failed / call_ended / supervisor / not_bridged
