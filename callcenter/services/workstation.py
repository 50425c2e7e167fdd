"""What the agent's screen shows and records during a call: the screen pop
(customer, lead, full history, the filled-in script), the script path and
the rejection (`step_outcomes`), the notes, and preview mode. Every function
that takes an agent and a call checks the call is that agent's."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.bus import EventBus
from callcenter.dates import format_datetime
from callcenter.db import utcnow
from callcenter.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from callcenter.events import PreviewCallRequested, PreviewSkipped
from callcenter.models import (
    AgentStatus,
    Appointment,
    AuditEntry,
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
from callcenter.realtime import emit_after_commit
from callcenter.realtime.rooms import agent_room
from callcenter.scheduling import format_phone, slot_label
from callcenter.services import (
    agents,
    appointments,
    audit,
    call_monitoring,
    disposition_codes,
    scripts_catalog,
)
from callcenter.services.bus_outbox import publish_after_commit
from callcenter.states import AgentState, CallState
from scripts import (
    Move,
    Script,
    ScriptPath,
    ScriptPathError,
    call_context,
    render_prompt,
    render_tips,
)

SCREEN_POP = "screen_pop"
PREVIEW_OFFER = "preview_offer"
HISTORY_LIMIT = 50
MAX_NOTES = 10_000
MOVE_KINDS = ("next", "back", "jump")
PREVIEW_SKIP_REASONS = ("bad_time", "incomplete_data", "recently_contacted", "duplicate", "other")


# --- ownership -------------------------------------------------------------------------


def own_call(session: Session, agent_id: int, call_id: Any) -> Call:
    """The call, if it is this agent's; an agent never reads another's call."""
    call = session.get(Call, str(call_id or ""))
    if call is None:
        raise NotFound(N_("no such call"), details={"call_id": call_id})
    if call.agent_id != agent_id:
        raise Forbidden(N_("this call is not yours"), details={"call_id": call.id})
    return call


def open_call(session: Session, agent_id: int, call_id: Any, *, lock: bool = False) -> Call:
    """The agent's call that is still on screen (not yet wrapped up); `lock`
    serialises writers of the same call (its script path, its booking)."""
    call = own_call(session, agent_id, call_id)
    if lock:
        session.refresh(call, with_for_update=True)
    if call.wrap_up_ended_at is not None:
        raise Conflict(N_("this call is already wrapped up"), details={"call_id": call.id})
    return call


# --- scripts ---------------------------------------------------------------------------


def script_version_of(session: Session, call: Call, locale: str = "fa") -> ScriptVersion:
    """The version the call uses, pinned on the call the first time it is asked."""
    if call.script_version_id is not None:
        version = session.get(ScriptVersion, call.script_version_id)
        if version is not None:
            return version
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    version = scripts_catalog.version_for_campaign(session, campaign, locale)
    call.script_version_id = version.id
    return version


def script_context(
    session: Session,
    call: Call,
    script: Script,
    *,
    now: datetime,
    slots: Iterable[Any] = (),
    appointment: Appointment | None = None,
) -> dict[str, object]:
    customer, lead = call.customer, call.lead
    campaign = session.get(Campaign, call.campaign_id)
    agent = session.get(User, call.agent_id) if call.agent_id else None
    assert campaign is not None
    tz = ZoneInfo(campaign.timezone)
    values: dict[str, object] = {
        "title": customer.title,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "agent_name": agent.full_name if agent else "",
        "company": campaign.company_name,
        "product": campaign.product,
        "benefit": (lead.fields or {}).get("benefit") or campaign.description,
        "email": customer.email or "",
        "contact_number": format_phone(
            (agent.direct_number if agent and agent.direct_number else campaign.caller_id) or "",
            script.locale,
        ),
    }
    for number, slot in enumerate(slots, start=1):
        values[f"slot_{number}"] = slot_label(slot.start, now, script.locale, tz=tz)
    if appointment is not None:
        values.update(appointments.read_back_for(appointment, script.locale, tz).as_context())
    customer_tz = ZoneInfo(customer.timezone or campaign.timezone)
    return call_context(script, values, now=now, tz=customer_tz)


def rendered_script(script: Script, context: dict[str, object]) -> dict[str, Any]:
    return {
        "key": script.key,
        "version": script.version,
        "title": script.title,
        "locale": script.locale,
        "dir": "rtl" if script.locale == "fa" else "ltr",
        "steps": [
            {
                "number": step.number,
                "key": step.key,
                "title": step.title,
                "prompt": render_prompt(step, context),
                "tips": render_tips(step, context),
                "booking": step.booking,
                "follow_up": step.follow_up,
                "rejections": [
                    {"code": reason.code, "label": reason.label, "free_text": reason.free_text}
                    for reason in step.rejections
                ],
            }
            for step in script.steps
        ],
    }


def start_script(session: Session, call: Call, *, now: datetime | None = None) -> None:
    """Step 1 on screen: the first `enter` row of the call's script path."""
    if _last_seq(session, call.id):
        return
    script_version_of(session, call, _agent_locale(session, call.agent_id))
    session.add(
        StepOutcome(
            call_id=call.id,
            seq=1,
            step_number=1,
            action=StepAction.ENTER,
            via="start",
            agent_id=call.agent_id,
            at=now or utcnow(),
        )
    )
    call.current_step = 1
    call.max_step_reached = max(call.max_step_reached or 0, 1)
    session.flush()


def _last_seq(session: Session, call_id: str) -> int:
    return (
        session.scalar(select(func.max(StepOutcome.seq)).where(StepOutcome.call_id == call_id)) or 0
    )


def _path(session: Session, call: Call, step_count: int) -> ScriptPath:
    rows = session.scalars(
        select(StepOutcome)
        .where(StepOutcome.call_id == call.id, StepOutcome.action == StepAction.ENTER)
        .order_by(StepOutcome.seq)
    )
    moves: list[Move] = []
    for row in rows:
        kind = row.via if row.via in ("start", *MOVE_KINDS) else "jump"
        moves.append(Move(kind, moves[-1].to_step if moves else None, row.step_number, row.at))  # type: ignore[arg-type]
    return ScriptPath(tuple(moves), step_count)


def move_step(
    session: Session,
    agent_id: int,
    call_id: Any,
    kind: Any,
    to_step: Any = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Next, back or jump; every move is an `enter` row, so the path is kept."""
    call = open_call(session, agent_id, call_id, lock=True)
    if kind not in MOVE_KINDS:
        raise InvalidInput(N_("move next, back or jump"), details={"field": "kind"})
    script = scripts_catalog.script_of(script_version_of(session, call))
    if not _last_seq(session, call.id):
        start_script(session, call, now=now)
    path = _path(session, call, len(script.steps))
    try:
        if kind == "next":
            path = path.next()
        elif kind == "back":
            path = path.back()
        else:
            path = path.jump(_int(to_step, "step"))
    except ScriptPathError:
        raise _refused_move(kind, to_step, path.current, len(script.steps)) from None
    session.add(
        StepOutcome(
            call_id=call.id,
            seq=_last_seq(session, call.id) + 1,
            step_number=path.current,
            action=StepAction.ENTER,
            via=kind,
            agent_id=agent_id,
            at=now or utcnow(),
        )
    )
    call.current_step = path.current
    call.max_step_reached = max(call.max_step_reached or 0, path.current)
    session.flush()
    return {"call_id": call.id, "step": call.current_step, "max_step": call.max_step_reached}


def record_rejection(
    session: Session,
    agent_id: int,
    call_id: Any,
    step: Any,
    reason_code: Any,
    reason_text: Any = "",
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The step where the prospect said no, with a reason the script offers at
    that step (`other` takes text). One per call: recording again corrects it."""
    call = open_call(session, agent_id, call_id, lock=True)
    script = scripts_catalog.script_of(script_version_of(session, call))
    number = _int(step, "step")
    try:
        reason = script.step(number).reason(str(reason_code or ""))
    except KeyError:
        raise InvalidInput(
            N_("choose a reason this step offers"), details={"field": "reason_code", "step": number}
        ) from None
    text = str(reason_text or "").strip()[:2000]
    if reason.free_text and not text:
        raise InvalidInput(N_("say in a few words why"), details={"field": "reason_text"})
    row = rejection_of(session, call.id)
    if row is None:
        row = StepOutcome(
            call_id=call.id,
            seq=_last_seq(session, call.id) + 1,
            action=StepAction.REJECT,
            via="reject",
            agent_id=agent_id,
            step_number=number,
        )
        session.add(row)
    row.step_number = number
    row.reason_code = reason.code
    row.reason_text = text or None
    row.at = now or utcnow()
    session.flush()
    return {"call_id": call.id, "step": number, "reason_code": reason.code, "reason_text": text}


def rejection_of(session: Session, call_id: str) -> StepOutcome | None:
    return session.scalar(
        select(StepOutcome).where(
            StepOutcome.call_id == call_id, StepOutcome.action == StepAction.REJECT
        )
    )


# --- notes -----------------------------------------------------------------------------


def save_notes(session: Session, agent_id: int, call_id: Any, text: Any) -> Note | None:
    """The call's note, saved as the agent types (a closed tab loses nothing);
    once the call is wrapped up its note and rejection are the record."""
    call = open_call(session, agent_id, call_id)
    body = checked_notes(text)
    note = call_note(session, call.id, agent_id)
    if note is None:
        if not body.strip():
            return None
        note = Note(customer_id=call.customer_id, call_id=call.id, author_id=agent_id, text=body)
        session.add(note)
    else:
        note.text = body
    session.flush()
    return note


def checked_notes(text: Any) -> str:
    """The notes as typed; longer than MAX_NOTES is refused, never cut unseen."""
    body = str(text or "")
    if len(body) > MAX_NOTES:
        raise InvalidInput(
            N_("the notes are too long: at most %(limit)s characters (%(typed)s typed)"),
            details={"field": "notes", "limit": MAX_NOTES},
            limit=MAX_NOTES,
            typed=len(body),
        )
    return body


def call_note(session: Session, call_id: str, agent_id: int) -> Note | None:
    return session.scalar(
        select(Note).where(Note.call_id == call_id, Note.author_id == agent_id).order_by(Note.id)
    )


# --- the screen pop --------------------------------------------------------------------


def _configured_label(
    labels: dict[tuple[int, str], tuple[str, str]],
    call: Call,
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


def screen_pop(session: Session, call: Call, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything the agent's screen needs for the call, in one payload."""
    now = now or utcnow()
    assert call.agent_id is not None
    locale = _agent_locale(session, call.agent_id)
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    script = scripts_catalog.script_of(script_version_of(session, call, locale))
    appointment = appointments.booked_on_call(session, call.id)
    slots = (
        appointments.propose(session, call, now=now) if call.state is not CallState.ENDED else ()
    )
    context = script_context(session, call, script, now=now, slots=slots, appointment=appointment)
    rejection = rejection_of(session, call.id)
    note = call_note(session, call.id, call.agent_id)
    disposition = session.scalar(select(Disposition).where(Disposition.call_id == call.id))
    tz = ZoneInfo(campaign.timezone)
    return {
        "call": {
            "id": call.id,
            "campaign_id": campaign.id,
            "campaign": campaign.name,
            "phone": call.phone_e164,
            "phone_display": format_phone(call.phone_e164, locale),
            "is_preview": call.is_preview,
            "direction": str(call.direction),
            "state": str(call.state),
            "outcome": str(call.outcome) if call.outcome else None,
            "connected_at": call.connected_at.isoformat() if call.connected_at else None,
            "ended_at": call.ended_at.isoformat() if call.ended_at else None,
            "current_step": call.current_step or 1,
            "max_step": call.max_step_reached or 1,
            "wrap_up_limit_seconds": campaign.wrap_up_limit_seconds,
            "auto_ready": campaign.auto_ready_after_wrap_up,
            "recording": campaign.recording_mode.value,
        },
        **lead_card(session, call.lead, locale, exclude_call_id=call.id, viewer_id=call.agent_id),
        "script": rendered_script(script, context),
        "rejection": _rejection_data(rejection),
        "booking": booking_data(session, call, locale, tz, slots=slots, appointment=appointment),
        "notes": note.text if note else "",
        "disposition": str(disposition.code) if disposition else None,
    }


def booking_data(
    session: Session,
    call: Call,
    locale: str,
    tz: ZoneInfo,
    *,
    slots: Iterable[Any],
    appointment: Appointment | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or utcnow()
    script = scripts_catalog.script_of(script_version_of(session, call, locale))
    data: dict[str, Any] = {
        "slots": [slot_data(slot, now, script.locale, tz) for slot in slots],
        "salespeople": [
            {"id": user.id, "name": user.full_name}
            for user in appointments.salespeople(session, call.campaign_id)
        ],
        "appointment": None,
        "read_back": None,
    }
    if appointment is not None:
        data["appointment"] = appointment_data(session, appointment, locale, tz)
        data["read_back"] = appointments.read_back_for(appointment, script.locale, tz).text
    return data


def slot_data(slot: Any, now: datetime, locale: str, tz: ZoneInfo) -> dict[str, str]:
    return {
        "start": slot.start.isoformat(),
        "label": slot_label(slot.start, now, locale, tz=tz),
        "full": format_datetime(slot.start, locale, tz=tz),
    }


def free_slots_view(
    session: Session,
    agent_id: int,
    call_id: Any,
    *,
    salesperson_id: int | None = None,
    now: datetime | None = None,
) -> list[dict[str, str]]:
    """More free times when neither offered slot suits the customer."""
    now = now or utcnow()
    call = open_call(session, agent_id, call_id)
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    script = scripts_catalog.script_of(script_version_of(session, call))
    tz = ZoneInfo(campaign.timezone)
    return [
        slot_data(slot, now, script.locale, tz)
        for slot in appointments.list_free(session, call, salesperson_id=salesperson_id, now=now)
    ]


def slots_for_salesperson(
    session: Session,
    agent_id: int,
    call_id: Any,
    *,
    salesperson_id: int | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The two slots to offer in the chosen salesperson's calendar (or the
    whole team's), and the script re-filled with them (step 6 reads them)."""
    now = now or utcnow()
    call = open_call(session, agent_id, call_id)
    assert call.agent_id is not None
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    locale = _agent_locale(session, call.agent_id)
    script = scripts_catalog.script_of(script_version_of(session, call, locale))
    slots = appointments.propose(session, call, salesperson_id=salesperson_id, now=now)
    context = script_context(session, call, script, now=now, slots=slots)
    tz = ZoneInfo(campaign.timezone)
    return {
        "call_id": call.id,
        "script": rendered_script(script, context),
        "slots": [slot_data(slot, now, script.locale, tz) for slot in slots],
    }


def after_booking(
    session: Session, call: Call, appointment: Appointment, *, now: datetime | None = None
) -> dict[str, Any]:
    """The booking panel and the re-filled script (step 7 reads the meeting back)."""
    now = now or utcnow()
    assert call.agent_id is not None
    locale = _agent_locale(session, call.agent_id)
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    script = scripts_catalog.script_of(script_version_of(session, call, locale))
    context = script_context(session, call, script, now=now, appointment=appointment)
    return {
        "call_id": call.id,
        "script": rendered_script(script, context),
        "booking": booking_data(
            session, call, locale, ZoneInfo(campaign.timezone), slots=(), appointment=appointment
        ),
    }


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
    query = select(Call).where(Call.customer_id == customer_id)
    if exclude_call_id:
        query = query.where(Call.id != exclude_call_id)
    calls = list(session.scalars(query.order_by(Call.dialed_at.desc()).limit(HISTORY_LIMIT)))
    call_ids = [call.id for call in calls]
    own = [call.id for call in calls if viewer_id is not None and call.agent_id == viewer_id]
    recorded = set(
        session.scalars(
            select(CallRecording.call_id).where(
                CallRecording.call_id.in_(own), CallRecording.status == RecordingStatus.STORED
            )
        )
    )
    dispositions = _by_call(session, select(Disposition).where(Disposition.call_id.in_(call_ids)))
    rejections = _by_call(
        session,
        select(StepOutcome).where(
            StepOutcome.call_id.in_(call_ids), StepOutcome.action == StepAction.REJECT
        ),
    )
    notes_by_call: dict[str | None, list[Note]] = defaultdict(list)
    for note in session.scalars(
        select(Note).where(Note.customer_id == customer_id).order_by(Note.created_at.desc())
    ):
        if note.call_id != exclude_call_id or exclude_call_id is None:
            notes_by_call[note.call_id].append(note)
    appointment_rows = list(
        session.scalars(
            select(Appointment)
            .where(Appointment.customer_id == customer_id)
            .order_by(Appointment.starts_at.desc())
        )
    )
    callback_rows = list(
        session.scalars(
            select(Callback)
            .where(Callback.customer_id == customer_id)
            .order_by(Callback.due_at.desc())
        )
    )
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
    labels = disposition_codes.labels(session, {call.campaign_id for call in calls})
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


def _rejection_data(row: StepOutcome | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"step": row.step_number, "reason_code": row.reason_code, "reason_text": row.reason_text}


def _rejection_label(
    session: Session, call: Call, row: StepOutcome | None
) -> dict[str, Any] | None:
    data = _rejection_data(row)
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


def _agent_locale(session: Session, agent_id: int | None) -> str:
    agent = session.get(User, agent_id) if agent_id else None
    return agent.locale if agent and agent.locale in ("fa", "en") else "fa"


def _refused_move(kind: str, to_step: Any, current: int | None, step_count: int) -> InvalidInput:
    """The path's refusal in words the agent's language can carry (the script
    engine knows no translations)."""
    details = {"field": "step"}
    if kind == "next":
        return InvalidInput(N_("step %(step)s is the last step"), details=details, step=current)
    if kind == "back":
        return InvalidInput(N_("step 1 is the first step"), details=details)
    return InvalidInput(
        N_("there is no step %(step)s; steps run 1..%(count)s"),
        details=details,
        step=to_step,
        count=step_count,
    )


def _int(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            N_("%(field)s must be a number"), details={"field": field}, field=field
        ) from None


# --- reconnect -------------------------------------------------------------------------


def current_view(session: Session, agent_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """What the screen should show now: after a reload or a reconnect the
    agent is back on the current call, at the current step, with the notes."""
    agent = agents.agent_user(session, agent_id)
    status = agents.status_of(session, agent_id)
    view: dict[str, Any] = {
        "agent": agents.state_payload(session, status),
        "call": None,
        "preview": None,
        "monitoring": None,
    }
    call = _screen_call(session, status)
    if call is not None:
        view["call"] = screen_pop(session, call, now=now)
        view["monitoring"] = call_monitoring.agent_view(session, agent_id, call.id)
    elif status.state is AgentState.RESERVED:
        lead = pending_preview(session, agent_id)
        if lead is not None:
            view["preview"] = preview_data(session, lead, agent.locale)
    return view


def _screen_call(session: Session, status: AgentStatus) -> Call | None:
    if status.current_call_id is not None:
        call = session.get(Call, status.current_call_id)
        if call is not None and call.agent_id == status.agent_id and call.wrap_up_ended_at is None:
            return call if call.connected_at is not None else None
    return None


# --- preview mode ----------------------------------------------------------------------

_PREVIEW_ACTIONS = ("preview.offered", "preview.started", "preview.skipped")


def offer_preview(
    session: Session, agent_id: int, campaign_id: int, lead_id: int, *, now: datetime | None = None
) -> Lead:
    """Show the agent a lead before it is dialed (the agent is reserved for it)."""
    agent = agents.agent_user(session, agent_id)
    lead = session.get(Lead, lead_id)
    if lead is None or lead.campaign_id != campaign_id:
        raise NotFound(N_("no such lead in this campaign"), details={"lead_id": lead_id})
    agents.change_state(session, agent_id, AgentState.RESERVED, reason="preview", now=now)
    audit.record(
        session,
        "preview.offered",
        actor=agent,
        target_type="lead",
        target_id=lead.id,
        details={"campaign_id": campaign_id},
    )
    emit_after_commit(
        session, PREVIEW_OFFER, preview_data(session, lead, agent.locale), room=agent_room(agent_id)
    )
    return lead


def preview_data(session: Session, lead: Lead, locale: str) -> dict[str, Any]:
    campaign = session.get(Campaign, lead.campaign_id)
    return {
        "campaign": campaign.name if campaign else "",
        "skip_reasons": list(PREVIEW_SKIP_REASONS),
        **lead_card(session, lead, locale),
    }


def pending_preview(session: Session, agent_id: int) -> Lead | None:
    """The lead on the agent's preview screen, if one is waiting for a decision."""
    last = session.scalar(
        select(AuditEntry)
        .where(AuditEntry.actor_id == agent_id, AuditEntry.action.in_(_PREVIEW_ACTIONS))
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    if last is None or last.action != "preview.offered" or last.target_id is None:
        return None
    return session.get(Lead, int(last.target_id))


def _pending_for(session: Session, agent_id: int, lead_id: Any) -> Lead:
    status = agents.status_of(session, agent_id, lock=True)
    lead = pending_preview(session, agent_id)
    if status.state is not AgentState.RESERVED or lead is None:
        raise Conflict(N_("there is no lead waiting for you"))
    if str(lead.id) != str(lead_id):
        raise Conflict(N_("that lead is not the one on your screen"), details={"lead_id": lead.id})
    return lead


def start_preview(
    session: Session, agent_id: int, lead_id: Any, *, bus: EventBus | None = None
) -> Lead:
    """The agent asks for the previewed lead to be dialed; the dialer places the call."""
    lead = _pending_for(session, agent_id, lead_id)
    agent = agents.agent_user(session, agent_id)
    audit.record(session, "preview.started", actor=agent, target_type="lead", target_id=lead.id)
    publish_after_commit(
        session,
        bus,
        PreviewCallRequested(agent_id=agent_id, campaign_id=lead.campaign_id, lead_id=lead.id),
    )
    return lead


def skip_preview(
    session: Session,
    agent_id: int,
    lead_id: Any,
    reason: Any,
    text: Any = "",
    *,
    bus: EventBus | None = None,
    now: datetime | None = None,
) -> Lead:
    lead = _pending_for(session, agent_id, lead_id)
    code = str(reason or "")
    if code not in PREVIEW_SKIP_REASONS:
        raise InvalidInput(N_("choose why you skip this lead"), details={"field": "reason"})
    note = str(text or "").strip()[:500]
    if code == "other" and not note:
        raise InvalidInput(N_("say in a few words why"), details={"field": "text"})
    agent = agents.agent_user(session, agent_id)
    audit.record(
        session,
        "preview.skipped",
        actor=agent,
        target_type="lead",
        target_id=lead.id,
        details={"reason": code, "text": note},
    )
    agents.change_state(session, agent_id, AgentState.READY, reason="preview_skipped", now=now)
    publish_after_commit(
        session,
        bus,
        PreviewSkipped(
            agent_id=agent_id, campaign_id=lead.campaign_id, lead_id=lead.id, reason=code
        ),
    )
    return lead
