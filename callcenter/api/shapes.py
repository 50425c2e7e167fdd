"""Models as the API's JSON (the shapes callcenter/api/openapi.py describes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callcenter.errors import DomainError
from callcenter.leadfiles import Message
from callcenter.models import Appointment, Callback, DncEntry, Lead, StepOutcome
from callcenter.services.api_reads import CallDetail
from callcenter.services.lead_import import RecordResult


def moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def said(message: Message) -> str:
    """A row's reason in the reader's language (the API's Accept-Language)."""
    return DomainError(message.text, **dict(message.params)).shown()


def record_result(result: RecordResult, lead_ids: dict[str, int]) -> dict[str, Any]:
    return {
        "line": result.line,
        "status": result.status,
        "phone": result.phone,
        "lead_id": lead_ids.get(result.phone or "") if result.status != "rejected" else None,
        "code": result.code,
        "message": said(result.message) if result.message is not None else None,
        "warnings": [said(warning) for warning in result.warnings],
    }


def lead(row: Lead) -> dict[str, Any]:
    customer = row.customer
    return {
        "id": row.id,
        "campaign_id": row.campaign_id,
        "state": str(row.state),
        "priority": row.priority,
        "attempts": row.attempts,
        "next_attempt_at": moment(row.next_attempt_at),
        "phone": customer.phone_e164,
        "phone2": customer.phone2_e164,
        "title": customer.title,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "company": customer.company,
        "email": customer.email,
        "city": customer.city,
        "address": customer.address,
        "fields": {key: str(value) for key, value in (row.fields or {}).items()},
    }


def callback(row: Callback) -> dict[str, Any]:
    return {
        "id": row.id,
        "lead_id": row.lead_id,
        "campaign_id": row.campaign_id,
        "due_at": moment(row.due_at),
        "agent_id": row.assigned_agent_id,
        "status": str(row.status),
        "note": row.note,
    }


def dnc_entry(row: DncEntry) -> dict[str, Any]:
    return {
        "phone": row.phone_e164,
        "campaign_id": row.campaign_id,
        "reason": row.reason,
        "source": row.source,
    }


def _step(row: StepOutcome) -> dict[str, Any]:
    return {"step": row.step_number, "via": row.via, "at": moment(row.at)}


def call(detail: CallDetail, recording_url: str | None) -> dict[str, Any]:
    row = detail.call
    disposition = detail.disposition
    rejection = detail.rejection
    recording = detail.recording
    return {
        "id": row.id,
        "campaign_id": row.campaign_id,
        "lead_id": row.lead_id,
        "customer_id": row.customer_id,
        "agent_id": row.agent_id,
        "phone": row.phone_e164,
        "state": str(row.state),
        "outcome": str(row.outcome) if row.outcome is not None else None,
        "dialed_at": moment(row.dialed_at),
        "answered_at": moment(row.answered_at),
        "connected_at": moment(row.connected_at),
        "ended_at": moment(row.ended_at),
        "disposition": None
        if disposition is None
        else {
            "code": disposition.code,
            "category": str(disposition.category),
            "notes": disposition.notes,
            "set_at": moment(disposition.created_at),
        },
        "script_path": [_step(step) for step in detail.path],
        "rejection": None
        if rejection is None
        else {
            "step": rejection.step_number,
            "reason_code": rejection.reason_code,
            "reason": rejection.reason_text,
        },
        "recording": None
        if recording is None or recording_url is None
        else {
            "url": recording_url,
            "duration_ms": recording.duration_ms,
            "sha256": recording.sha256,
            "media_type": recording.media_type,
        },
    }


def appointment(row: Appointment) -> dict[str, Any]:
    return {
        "id": row.id,
        "campaign_id": row.campaign_id,
        "lead_id": row.lead_id,
        "call_id": row.call_id,
        "customer_id": row.customer_id,
        "owner_id": row.owner_id,
        "booked_by_id": row.booked_by_id,
        "starts_at": moment(row.starts_at),
        "ends_at": moment(row.ends_at),
        "kind": str(row.kind),
        "location": row.location,
        "meeting_link": row.meeting_link,
        "contact_number": row.contact_number,
        "status": str(row.status),
    }
