"""Raw call records, streamed from the database (server-side cursor on
PostgreSQL, incremental fetch on SQLite) for exports of any size."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.metrics import CONTACT, LIVE_ANSWER, rejection_of_call
from callcenter.models import Call, CallRecording, Disposition, Lead
from callcenter.services.reports.filters import ReportFilters, call_conditions

BATCH = 5000


def iter_call_rows(session: Session, filters: ReportFilters) -> Iterator[Any]:
    """Rows with: id, campaign_id, lead_list_id, agent_id, phone_e164, attempt,
    outcome, sip_status, live_answer, contact, amd_result, amd_decision_ms,
    amd_action, dialed_at, answered_at, connected_at, ended_at,
    wrap_up_ended_at, max_step_reached, reject_step, reject_reason,
    reject_text, disposition, recording_status, recording_ms, recording_sha256,
    direction, opened_by_id (the opener of a transferred call); ordered by
    dialed_at."""
    rejection = rejection_of_call()
    query = (
        select(
            Call.id,
            Call.campaign_id,
            Lead.lead_list_id,
            Call.agent_id,
            Call.phone_e164,
            Call.attempt,
            Call.outcome,
            Call.sip_status,
            LIVE_ANSWER.label("live_answer"),
            CONTACT.label("contact"),
            Call.amd_result,
            Call.amd_decision_ms,
            Call.amd_action,
            Call.dialed_at,
            Call.answered_at,
            Call.connected_at,
            Call.ended_at,
            Call.wrap_up_ended_at,
            Call.max_step_reached,
            rejection.c.step_number,
            rejection.c.reason_code,
            rejection.c.reason_text,
            Disposition.code,
            CallRecording.status,
            CallRecording.duration_ms,
            CallRecording.sha256,
            Call.direction,
            Call.opened_by_id,
        )
        .join(Lead, Lead.id == Call.lead_id)
        .outerjoin(rejection, rejection.c.call_id == Call.id)
        .outerjoin(Disposition, Disposition.call_id == Call.id)
        .outerjoin(CallRecording, CallRecording.call_id == Call.id)
        .where(*call_conditions(filters))
        .order_by(Call.dialed_at, Call.id)
        .execution_options(yield_per=BATCH)
    )
    yield from session.execute(query)
