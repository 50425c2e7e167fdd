"""What a committed transaction changed, for consumers in the same process
(the live floor), handed on by `callcenter.after_commit.record_event` once
the transaction commits. Unlike bus events (`callcenter.events`) they never
leave the process. The call events the calls service applies are recorded
as they are; these are the changes that have no bus event."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from callcenter.events import AgentStateChanged


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentStateRecorded(AgentStateChanged):
    """A committed agent_state_changes row, applied like the bus event."""

    call_id: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class AppointmentBooked:
    call_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class CustomerOnCall:
    """The name of the customer of a call answered or connected in this
    transaction (its lead's customer): the live floor shows it from then on."""

    call_id: str
    title: str | None
    first_name: str | None
    last_name: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScriptStepEntered:
    call_id: str
    step_number: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class WrapUpEnded:
    call_id: str
    campaign_id: int
    dialed_at: datetime
    seconds: float  # from the call's end to the end of its wrap-up


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallMarkedMachine:
    """The agent said the call they had, counted as a live answer, was a machine."""

    call_id: str
    campaign_id: int
    dialed_at: datetime
    answered_at: datetime | None
    connected_at: datetime | None
    agent_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecordingChanged:
    """A call's recording was stored or changed status: the campaign's recent
    calls list changed."""

    campaign_id: int
