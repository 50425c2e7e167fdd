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
    """`call_rows_query`'s rows, ordered by dialed_at."""
    query = (
        call_rows_query(filters)
        .order_by(Call.dialed_at, Call.id)
        .execution_options(yield_per=BATCH)
    )
    yield from session.execute(query)


def call_rows_query(filters: ReportFilters) -> Any:
    """A select of the calls the filters pick, with: id, campaign_id,
    lead_list_id, agent_id, phone_e164, attempt, outcome, sip_status,
    live_answer, contact, amd_result, amd_decision_ms, amd_action, dialed_at,
    answered_at, connected_at, ended_at,
    wrap_up_ended_at, max_step_reached, reject_step, reject_reason,
    reject_text, disposition, recording_status, recording_ms, recording_sha256,
    direction, opened_by_id (the opener of a transferred call), each column
    labelled so."""
    rejection = rejection_of_call()
    return (
        select(
            Call.id.label("id"),
            Call.campaign_id.label("campaign_id"),
            Lead.lead_list_id.label("lead_list_id"),
            Call.agent_id.label("agent_id"),
            Call.phone_e164.label("phone_e164"),
            Call.attempt.label("attempt"),
            Call.outcome.label("outcome"),
            Call.sip_status.label("sip_status"),
            LIVE_ANSWER.label("live_answer"),
            CONTACT.label("contact"),
            Call.amd_result.label("amd_result"),
            Call.amd_decision_ms.label("amd_decision_ms"),
            Call.amd_action.label("amd_action"),
            Call.dialed_at.label("dialed_at"),
            Call.answered_at.label("answered_at"),
            Call.connected_at.label("connected_at"),
            Call.ended_at.label("ended_at"),
            Call.wrap_up_ended_at.label("wrap_up_ended_at"),
            Call.max_step_reached.label("max_step_reached"),
            rejection.c.step_number.label("reject_step"),
            rejection.c.reason_code.label("reject_reason"),
            rejection.c.reason_text.label("reject_text"),
            Disposition.code.label("disposition"),
            CallRecording.status.label("recording_status"),
            CallRecording.duration_ms.label("recording_ms"),
            CallRecording.sha256.label("recording_sha256"),
            Call.direction.label("direction"),
            Call.opened_by_id.label("opened_by_id"),
        )
        .join(Lead, Lead.id == Call.lead_id)
        .outerjoin(rejection, rejection.c.call_id == Call.id)
        .outerjoin(Disposition, Disposition.call_id == Call.id)
        .outerjoin(CallRecording, CallRecording.call_id == Call.id)
        .where(*call_conditions(filters))
    )
