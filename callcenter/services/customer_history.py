"""The customer as the agent's screen shows them: the card (customer, lead
fields) and the history of every earlier call, meeting, callback and note."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from callcenter.dates import format_datetime
from callcenter.models import (
    Appointment,
    Call,
    Callback,
    CallRecording,
    Campaign,
    Disposition,
    FollowUp,
    Lead,
    Note,
    RecordingStatus,
    ScriptVersion,
    StepAction,
    StepOutcome,
    User,
)
from callcenter.scheduling import format_phone
from callcenter.services import disposition_codes, scripts_catalog
from callcenter.services.call_script import rejection_data
from callcenter.states import CallOutcome, CallState

HISTORY_LIMIT = 50


class PastCall(NamedTuple):
    """What the history shows of an earlier call (not the whole row)."""

    id: str
    dialed_at: datetime
    campaign_id: int
    agent_id: int | None
    state: CallState
    outcome: CallOutcome | None
    max_step_reached: int
    script_version_id: int | None


# Built once: the screen pop reads these on every connect, and a statement
# built each time costs its construction and cache key (bench/call_events).
_PAST_CALLS = (
    select(
        Call.id,
        Call.dialed_at,
        Call.campaign_id,
        Call.agent_id,
        Call.state,
        Call.outcome,
        Call.max_step_reached,
        Call.script_version_id,
    )
    .where(Call.customer_id == bindparam("customer_id"))
    .order_by(Call.dialed_at.desc())
    .limit(HISTORY_LIMIT)
)
_PAST_CALLS_BUT = _PAST_CALLS.where(Call.id != bindparam("exclude_call_id"))
_NOTES = (
    select(Note)
    .where(Note.customer_id == bindparam("customer_id"))
    .order_by(Note.created_at.desc())
)
_APPOINTMENTS = (
    select(Appointment)
    .where(Appointment.customer_id == bindparam("customer_id"))
    .order_by(Appointment.starts_at.desc())
)
_CALLBACKS = (
    select(
        Callback.id,
        Callback.due_at,
        Callback.campaign_id,
        Callback.assigned_agent_id,
        Callback.status,
        Callback.note,
    )
    .where(Callback.customer_id == bindparam("customer_id"))
    .order_by(Callback.due_at.desc())
)


def lead_card(
    session: Session,
    lead: Lead,
    locale: str,
    *,
    exclude_call_id: str | None = None,
    viewer_id: int | None = None,
) -> dict[str, Any]:
    customer = lead.customer
    return {
        "customer": {
            "id": customer.id,
            "title": customer.title,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "name": " ".join(
                p for p in (customer.title, customer.first_name, customer.last_name) if p
            ),
            "company": customer.company,
            "email": customer.email or "",
            "phone_display": format_phone(customer.phone_e164, locale),
            "address": customer.address,
            "city": customer.city,
            "locale": customer.locale,
        },
        "lead": {
            "id": lead.id,
            "campaign_id": lead.campaign_id,
            "state": str(lead.state),
            "attempts": lead.attempts,
            "fields": [[str(key), str(value)] for key, value in (lead.fields or {}).items()],
        },
        "history": history(
            session, customer.id, locale, exclude_call_id=exclude_call_id, viewer_id=viewer_id
        ),
    }


def history(
    session: Session,
    customer_id: int,
    locale: str,
    *,
    exclude_call_id: str | None = None,
    viewer_id: int | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Every earlier call to this customer in any campaign, their meetings,
    callbacks and notes, newest first. ``recorded``: the viewing agent's own
    call has a recording they may play."""
    by_customer = {"customer_id": customer_id}
    if exclude_call_id:
        past = session.execute(_PAST_CALLS_BUT, by_customer | {"exclude_call_id": exclude_call_id})
    else:
        past = session.execute(_PAST_CALLS, by_customer)
    calls = [PastCall(*row) for row in past]
    call_ids = [call.id for call in calls]
    own = [call.id for call in calls if viewer_id is not None and call.agent_id == viewer_id]
    recorded = set(
        session.scalars(
            select(CallRecording.call_id).where(
                CallRecording.call_id.in_(own), CallRecording.status == RecordingStatus.STORED
            )
        )
        if own
        else ()
    )
    dispositions = (
        _by_call(session, select(Disposition).where(Disposition.call_id.in_(call_ids)))
        if call_ids
        else {}
    )
    rejections = (
        _by_call(
            session,
            select(StepOutcome).where(
                StepOutcome.call_id.in_(call_ids), StepOutcome.action == StepAction.REJECT
            ),
        )
        if call_ids
        else {}
    )
    notes_by_call: dict[str | None, list[Note]] = defaultdict(list)
    for note in session.scalars(_NOTES, by_customer):
        # A blank note (saved over by a disposition sent without notes, before
        # those kept the note) says nothing: no empty entry in the history.
        if note.text.strip() and (note.call_id != exclude_call_id or exclude_call_id is None):
            notes_by_call[note.call_id].append(note)
    appointment_rows = list(session.scalars(_APPOINTMENTS, by_customer))
    callback_rows = session.execute(_CALLBACKS, by_customer).all()
    names = _names(
        session,
        [call.agent_id for call in calls]
        + [note.author_id for group in notes_by_call.values() for note in group]
        + [row.booked_by_id for row in appointment_rows]
        + [row.owner_id for row in appointment_rows]
        + [row.assigned_agent_id for row in callback_rows],
    )
    campaigns = _campaign_names(
        session,
        [call.campaign_id for call in calls]
        + [row.campaign_id for row in appointment_rows]
        + [row.campaign_id for row in callback_rows],
    )
    when = _formatter(locale)
    labels = (
        disposition_codes.labels(session, {call.campaign_id for call in calls}) if calls else {}
    )
    return {
        "calls": [
            {
                "id": call.id,
                "when": when(call.dialed_at),
                "campaign": campaigns.get(call.campaign_id, ""),
                "agent": names.get(call.agent_id, ""),
                "outcome": str(call.outcome) if call.outcome else str(call.state),
                "disposition": str(dispositions[call.id].code) if call.id in dispositions else None,
                "disposition_label": _configured_label(labels, call, dispositions, locale),
                "max_step": call.max_step_reached,
                "rejection": _rejection_label(session, call, rejections.get(call.id)),
                "notes": [note.text for note in notes_by_call.get(call.id, [])],
                "recorded": call.id in recorded,
            }
            for call in calls
        ],
        "appointments": [
            appointment_data(session, row, locale, None, names=names, campaigns=campaigns)
            for row in appointment_rows
        ],
        "callbacks": [
            {
                "id": row.id,
                "due": when(row.due_at),
                "campaign": campaigns.get(row.campaign_id, ""),
                "for": names.get(row.assigned_agent_id) if row.assigned_agent_id else None,
                "status": str(row.status),
                "note": row.note,
            }
            for row in callback_rows
        ],
        "notes": [
            {"when": when(note.created_at), "by": names.get(note.author_id, ""), "text": note.text}
            for note in notes_by_call.get(None, [])
        ],
    }


def _configured_label(
    labels: dict[tuple[int, str], tuple[str, str]],
    call: PastCall,
    dispositions: dict[str, Any],
    locale: str,
) -> str | None:
    """The campaign's label of the call's disposition (None: a code no campaign defines)."""
    if call.id not in dispositions:
        return None
    label = labels.get((call.campaign_id, dispositions[call.id].code))
    if label is None:
        return None
    return label[0] if locale == "fa" else label[1]


def appointment_data(
    session: Session,
    row: Appointment,
    locale: str,
    tz: ZoneInfo | None,
    *,
    names: dict[int | None, str] | None = None,
    campaigns: dict[int | None, str] | None = None,
) -> dict[str, Any]:
    names = names if names is not None else _names(session, [row.booked_by_id, row.owner_id])
    follow_ups = session.scalars(
        select(FollowUp).where(FollowUp.appointment_id == row.id).order_by(FollowUp.id)
    )
    when = _formatter(locale, tz)
    return {
        "id": row.id,
        "call_id": row.call_id,
        "when": when(row.starts_at),
        "starts_at": row.starts_at.isoformat(),
        "kind": str(row.kind),
        "place": row.location or row.meeting_link,
        "status": str(row.status),
        "by": names.get(row.booked_by_id, ""),
        # Who holds the meeting, when it is not the agent who booked it.
        "salesperson": names.get(row.owner_id, "") if row.owner_id != row.booked_by_id else "",
        "campaign": (campaigns or {}).get(row.campaign_id, ""),
        "follow_ups": [
            {
                "id": item.id,
                "kind": str(item.kind),
                "status": str(item.status),
                "to": item.to_address,
                "sent": when(item.sent_at) if item.sent_at else None,
                "attempts": item.attempts,
            }
            for item in follow_ups
        ],
    }


def _formatter(locale: str, tz: ZoneInfo | None = None) -> Any:
    def when(value: datetime) -> str:
        if tz is None:
            return format_datetime(value, locale, style="short")
        return format_datetime(value, locale, style="short", tz=tz)

    return when


def _by_call(session: Session, query: Any) -> dict[str, Any]:
    return {row.call_id: row for row in session.scalars(query)}


def _names(session: Session, ids: Iterable[int | None]) -> dict[int | None, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(wanted))).all())  # type: ignore[arg-type]


def _campaign_names(session: Session, ids: Iterable[int | None]) -> dict[int | None, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Campaign.id, Campaign.name).where(Campaign.id.in_(wanted)))
    return dict(rows.all())  # type: ignore[arg-type]


def _rejection_label(
    session: Session, call: PastCall, row: StepOutcome | None
) -> dict[str, Any] | None:
    data = rejection_data(row)
    if data is None or row is None:
        return None
    label = row.reason_code or ""
    if call.script_version_id is not None:
        version = session.get(ScriptVersion, call.script_version_id)
        if version is not None:
            with contextlib.suppress(KeyError):
                label = scripts_catalog.script_of(version).step(row.step_number).reason(label).label
    data["label"] = label
    return data
