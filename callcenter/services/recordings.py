"""Call recordings: the rows the dialer's events make, who may hear which,
the audited plays and downloads, on-demand starts, legal hold and retention."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import false, inspect, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from callcenter import after_commit
from callcenter.bus import EventBus
from callcenter.domain_events import RecordingChanged
from callcenter.errors import N_, Conflict, Forbidden, NotFound
from callcenter.events import Event, RecordingFinished, RecordingRequested, RecordingStarted
from callcenter.models import (
    Call,
    CallRecording,
    Campaign,
    RecordingMode,
    RecordingStatus,
    StepAction,
    StepOutcome,
    User,
)
from callcenter.recording_store import RecordingStore, StoreError
from callcenter.services import applied_events, audit
from callcenter.services.bus_outbox import publish_after_commit
from callcenter.states import CallState, Role

log = logging.getLogger(__name__)

HANDLER = "recordings"


# --- the dialer's events -------------------------------------------------------------------


def apply_event(session: Session, event: Event) -> bool:
    """Apply recording.started / recording.finished once; False when applied before."""
    if not applied_events.first_application(session, event.event_id, HANDLER):
        return False
    call_id = getattr(event, "call_id", "")
    if session.get(Call, call_id) is None:  # rolled back with the mark: applied once it is there
        raise NotFound(N_("no call %(call_id)s"), details={"call_id": call_id}, call_id=call_id)
    if isinstance(event, RecordingStarted):
        _on_started(session, event)
    elif isinstance(event, RecordingFinished):
        _on_finished(session, event)
    session.flush()
    return True


def _row_for(session: Session, call_id: str) -> CallRecording | None:
    return session.scalar(select(CallRecording).where(CallRecording.call_id == call_id))


def _on_started(session: Session, event: RecordingStarted) -> None:
    row = _row_for(session, event.call_id)
    if row is None:
        row = CallRecording(call_id=event.call_id, campaign_id=event.campaign_id)
        session.add(row)
    row.trigger = event.trigger
    row.consent_played = event.consent_played
    row.started_at = event.occurred_at
    row.legal_hold = row.legal_hold or False


def _set_status(session: Session, row: CallRecording, status: RecordingStatus) -> None:
    """A stored recording, or one whose status changed, changes the
    campaign's recent calls list (it shows which calls can be played)."""
    new = inspect(row).pending
    changed = status is RecordingStatus.STORED if new else row.status is not status
    row.status = status
    if changed:
        after_commit.record_event(session, RecordingChanged(campaign_id=row.campaign_id))


def _on_finished(session: Session, event: RecordingFinished) -> None:
    row = _row_for(session, event.call_id)
    if row is None:  # started was lost or comes later: the finished one says enough
        call = session.get(Call, event.call_id)
        assert call is not None
        row = CallRecording(
            call_id=event.call_id,
            campaign_id=call.campaign_id,
            started_at=event.occurred_at - timedelta(milliseconds=event.duration_ms),
            legal_hold=False,
        )
        session.add(row)
    if event.retrying:
        if row.status is RecordingStatus.STORED:
            return  # the retry that stored it was applied first
        _set_status(session, row, RecordingStatus.UPLOAD_PENDING)
    else:
        stored = RecordingStatus.STORED if event.stored else RecordingStatus.FAILED
        _set_status(session, row, stored)
    row.ended_at = event.occurred_at
    row.duration_ms = event.duration_ms
    row.size_bytes = event.size_bytes
    row.sha256 = event.sha256
    row.storage_key = event.storage_key
    row.media_type = event.media_type
    row.failure_reason = event.failure_reason
    if not event.stored:
        log.warning(
            "recording of call %s %s: %s",
            event.call_id,
            "not stored yet, to be uploaded again" if event.retrying else "failed",
            event.failure_reason,
            extra={"call_id": event.call_id},
        )


# --- who may hear what ---------------------------------------------------------------------


def _supervised_team_ids(user: User) -> set[int]:
    return {team.id for team in user.supervised}


def may_hear(session: Session, user: User, call: Call) -> bool:
    """An agent their own calls; a supervisor their teams' agents' calls; managers all."""
    if user.role in (Role.MANAGER, Role.ADMIN):
        return True
    if call.agent_id is None:
        return False
    if user.role is Role.AGENT:
        return call.agent_id == user.id
    if user.role is Role.SUPERVISOR:
        agent = session.get(User, call.agent_id)
        return agent is not None and agent.team_id in _supervised_team_ids(user)
    return False


def hearing_team_ids(user: User) -> list[int] | None:
    """The teams whose agents' calls a supervisor or agent may hear (an agent:
    only their own calls, so none); None for managers and admins (all)."""
    if user.role in (Role.MANAGER, Role.ADMIN):
        return None
    return sorted(_supervised_team_ids(user)) if user.role is Role.SUPERVISOR else []


def hearing_scope(user: User) -> ColumnElement[bool]:
    """The rule of may_hear as a condition on Call, for lists of calls."""
    if user.role is Role.AGENT:
        return Call.agent_id == user.id
    teams = hearing_team_ids(user)
    if teams is None:
        return true()
    if not teams:
        return false()
    return Call.agent_id.in_(select(User.id).where(User.team_id.in_(teams)))


def recording_for(session: Session, user: User, call_id: str) -> CallRecording:
    """The call's recording, if this user may hear it (403 otherwise, 404 when none)."""
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(N_("No such call."), details={"call_id": call_id})
    if not may_hear(session, user, call):
        raise Forbidden(
            N_("This call's recording is not yours to hear."), details={"call_id": call_id}
        )
    row = _row_for(session, call_id)
    if row is None:
        raise NotFound(N_("This call was not recorded."), details={"call_id": call_id})
    return row


@dataclass(frozen=True)
class StepMark:
    step_number: int
    offset_ms: int
    rejected: bool


def step_marks(session: Session, recording: CallRecording) -> list[StepMark]:
    """The script steps the agent moved through, as offsets into the recording."""
    rows = session.scalars(
        select(StepOutcome)
        .where(StepOutcome.call_id == recording.call_id)
        .order_by(StepOutcome.seq)
    )
    marks = []
    for row in rows:
        offset = round((row.at - recording.started_at).total_seconds() * 1000)
        if recording.duration_ms is not None and offset > recording.duration_ms:
            continue
        marks.append(StepMark(row.step_number, max(0, offset), row.action is StepAction.REJECT))
    return marks


def playable(recording: CallRecording) -> CallRecording:
    if recording.status is not RecordingStatus.STORED or recording.storage_key is None:
        raise NotFound(
            N_("This recording cannot be played: %(status)s."),
            details={"status": recording.status.value, "reason": recording.failure_reason},
            status=recording.status.value,
        )
    return recording


def audit_access(
    session: Session, user: User, recording: CallRecording, action: str, ip_address: str | None
) -> None:
    """Every play and download is written down (action: play | download)."""
    audit.record(
        session,
        f"recording.{action}",
        actor=user,
        target_type="call",
        target_id=recording.call_id,
        details={"recording_id": recording.id},
        ip_address=ip_address,
    )


def visible_recordings(session: Session, user: User, *, limit: int = 200) -> list[CallRecording]:
    query = (
        select(CallRecording)
        .join(Call, Call.id == CallRecording.call_id)
        .where(hearing_scope(user))
        .order_by(CallRecording.started_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def listing_names(
    session: Session, rows: list[CallRecording]
) -> tuple[dict[int, str], dict[int, str]]:
    """The campaigns' and the agents' names of the listed recordings."""
    campaign_ids = {row.campaign_id for row in rows}
    agent_ids = {row.call.agent_id for row in rows if row.call.agent_id is not None}
    campaign_names = session.execute(
        select(Campaign.id, Campaign.name).where(Campaign.id.in_(campaign_ids))
    ).tuples()
    agent_names = session.execute(
        select(User.id, User.full_name).where(User.id.in_(agent_ids))
    ).tuples()
    return dict(campaign_names.all()), dict(agent_names.all())


# --- starting one on demand ------------------------------------------------------------------


def request_recording(session: Session, bus: EventBus | None, user: User, call_id: str) -> None:
    """An agent (their own call) or a supervisor (their teams') asks to record
    a connected call of a campaign that records on demand."""
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(N_("No such call."), details={"call_id": call_id})
    if user.role is Role.AGENT and call.agent_id != user.id:
        raise Forbidden(N_("Only your own call can be recorded from here."))
    if user.role is not Role.AGENT and not may_hear(session, user, call):
        raise Forbidden(N_("This call is not on your floor."), details={"call_id": call_id})
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    if campaign.recording_mode is RecordingMode.OFF:
        raise Conflict(N_("This campaign does not record calls."))
    if call.state is not CallState.CONNECTED:
        raise Conflict(N_("Only a call in progress can be recorded."))
    if _row_for(session, call_id) is not None:
        raise Conflict(N_("This call is being recorded already."))
    trigger = "agent" if user.role is Role.AGENT else "supervisor"
    audit.record(session, "recording.requested", actor=user, target_type="call", target_id=call_id)
    publish_after_commit(
        session, bus, RecordingRequested(call_id=call_id, requested_by=user.id, trigger=trigger)
    )


# --- legal hold and retention ------------------------------------------------------------------


def set_legal_hold(
    session: Session, user: User, call_id: str, hold: bool, ip_address: str | None = None
) -> CallRecording:
    recording = recording_for(session, user, call_id)
    recording.legal_hold = hold
    audit.record(
        session,
        "recording.legal_hold" if hold else "recording.legal_hold_lifted",
        actor=user,
        target_type="call",
        target_id=call_id,
        ip_address=ip_address,
    )
    session.flush()
    return recording


@dataclass(frozen=True)
class ExpiryReport:
    deleted: int
    held: int
    failed: list[str]


def expire(session: Session, store: RecordingStore, *, now: datetime) -> ExpiryReport:
    """Delete the recordings past their campaign's retention, except those on
    legal hold; each deletion is audited, and the row stays (status deleted)."""
    due = session.execute(
        select(CallRecording, Campaign.recording_retention_days)
        .join(Campaign, Campaign.id == CallRecording.campaign_id)
        .where(
            Campaign.recording_retention_days.is_not(None),
            CallRecording.status.in_([RecordingStatus.STORED, RecordingStatus.FAILED]),
        )
    ).all()
    deleted, held, failed = 0, 0, []
    for recording, days in due:
        if recording.started_at > now - timedelta(days=days):
            continue
        if recording.legal_hold:
            held += 1
            continue
        if recording.storage_key is not None:
            try:
                store.delete(recording.storage_key)
            except StoreError as exc:
                failed.append(f"{recording.call_id}: {exc}")
                continue
        _set_status(session, recording, RecordingStatus.DELETED)
        recording.deleted_at = now
        audit.record(
            session,
            "recording.deleted",
            actor=None,
            target_type="call",
            target_id=recording.call_id,
            details={"retention_days": days, "storage_key": recording.storage_key},
        )
        recording.storage_key = None
        deleted += 1
    session.flush()
    return ExpiryReport(deleted, held, failed)
