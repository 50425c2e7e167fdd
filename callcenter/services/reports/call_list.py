"""The reports' list of calls, one page at a time, newest first, with a play
link where the call has a recording: the viewer sees the calls whose
recordings they may hear (recordings.hearing_scope), within the filters."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from callcenter.errors import N_
from callcenter.metrics import rejection_of_call
from callcenter.models import (
    Call,
    CallRecording,
    Campaign,
    Customer,
    Disposition,
    RecordingStatus,
    User,
)
from callcenter.services import disposition_codes, recordings
from callcenter.services.reports.dispositions import disposition_label
from callcenter.services.reports.filters import InvalidFilter, ReportFilters, call_conditions
from callcenter.services.reports.labels import OUTCOMES, translator
from callcenter.services.reports.scope import ScriptLabels

PAGE_SIZE = 50


@dataclass(frozen=True)
class CallListRow:
    call_id: str
    dialed_at: datetime
    campaign: str
    agent: str
    customer: str
    phone: str
    talk_seconds: int | None
    outcome: str
    disposition: str
    reject_step: int | None
    reject_step_title: str
    reject_reason: str
    playable: bool


@dataclass(frozen=True)
class CallListPage:
    rows: list[CallListRow]
    next_cursor: str | None
    """Pass back as `cursor` for the next (older) page; None on the last one."""


def call_list(
    session: Session,
    viewer: User,
    filters: ReportFilters,
    locale: str,
    *,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> CallListPage:
    """Keyset pages ordered by (dialed_at, id) descending, so each page is an
    index range scan (ix_calls_dialed, or the campaign's and the agent's)."""
    # The viewer's hearing scope replaces the reports' campaign scope here.
    filters = replace(filters, visible_campaign_ids=None)
    rejection = rejection_of_call()
    query = (
        select(
            Call,
            Campaign.name,
            User.full_name,
            Customer.title,
            Customer.first_name,
            Customer.last_name,
            Disposition.code,
            rejection.c.step_number,
            rejection.c.reason_code,
            rejection.c.reason_text,
            CallRecording.status,
        )
        .join(Campaign, Campaign.id == Call.campaign_id)
        .join(Customer, Customer.id == Call.customer_id)
        .outerjoin(User, User.id == Call.agent_id)
        .outerjoin(Disposition, Disposition.call_id == Call.id)
        .outerjoin(rejection, rejection.c.call_id == Call.id)
        .outerjoin(CallRecording, CallRecording.call_id == Call.id)
        .where(*call_conditions(filters), recordings.hearing_scope(viewer))
        .order_by(Call.dialed_at.desc(), Call.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        at, call_id = _parse_cursor(cursor)
        query = query.where(or_(Call.dialed_at < at, and_(Call.dialed_at == at, Call.id < call_id)))
    found = session.execute(query).all()
    page, more = found[:limit], len(found) > limit
    campaign_ids = {row[0].campaign_id for row in page}
    labels = disposition_codes.labels(session, campaign_ids)
    steps = ScriptLabels.load(session, locale)
    _ = translator(locale)
    rows = []
    for call, campaign, agent, title, first, last, code, step, reason, text, status in page:
        talk = None
        if call.connected_at is not None and call.ended_at is not None:
            talk = round((call.ended_at - call.connected_at).total_seconds())
        rows.append(
            CallListRow(
                call_id=call.id,
                dialed_at=call.dialed_at,
                campaign=campaign,
                agent=agent or "",
                customer=" ".join(part for part in (title, first, last) if part),
                phone=call.phone_e164,
                talk_seconds=talk,
                outcome=_(OUTCOMES[call.outcome]) if call.outcome in OUTCOMES else "",
                disposition=(
                    disposition_label(labels, call.campaign_id, code, locale) if code else ""
                ),
                reject_step=step,
                reject_step_title=steps.step(step),
                reject_reason=text or steps.reason(step, reason),
                playable=status is RecordingStatus.STORED,
            )
        )
    last_row = page[-1][0] if page else None
    next_cursor = _cursor(last_row) if more and last_row is not None else None
    return CallListPage(rows, next_cursor)


def _cursor(call: Call) -> str:
    return f"{call.dialed_at.isoformat()}~{call.id}"


def _parse_cursor(text: str) -> tuple[datetime, str]:
    at, _sep, call_id = text.partition("~")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or not call_id:
        raise InvalidFilter(N_("the page link is broken: start from the first page"))
    return moment, call_id
