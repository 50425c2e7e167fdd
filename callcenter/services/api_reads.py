"""What other systems read through the API: a call with its outcome, and
the booked meetings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import N_, InvalidInput, NotFound
from callcenter.models import (
    ApiToken,
    Appointment,
    AppointmentStatus,
    Call,
    CallRecording,
    Disposition,
    RecordingStatus,
    StepAction,
    StepOutcome,
)
from callcenter.services import api_tokens

APPOINTMENTS_LIMIT = 500


@dataclass(frozen=True)
class CallDetail:
    call: Call
    disposition: Disposition | None
    path: list[StepOutcome]
    rejection: StepOutcome | None
    recording: CallRecording | None


def call_detail(session: Session, token: ApiToken, call_id: str) -> CallDetail:
    call = session.get(Call, call_id)
    if call is None or not api_tokens.may_use_campaign(token, call.campaign_id):
        raise NotFound(N_("no such call"), details={"call_id": call_id})
    steps = list(
        session.scalars(
            select(StepOutcome).where(StepOutcome.call_id == call.id).order_by(StepOutcome.seq)
        )
    )
    recording = session.scalar(select(CallRecording).where(CallRecording.call_id == call.id))
    if recording is not None and (
        recording.status is not RecordingStatus.STORED or recording.deleted_at is not None
    ):
        recording = None
    return CallDetail(
        call=call,
        disposition=session.scalar(select(Disposition).where(Disposition.call_id == call.id)),
        path=[step for step in steps if step.action is StepAction.ENTER],
        rejection=next((step for step in steps if step.action is StepAction.REJECT), None),
        recording=recording,
    )


def appointments(
    session: Session,
    token: ApiToken,
    *,
    campaign_id: int | None,
    since: Any,
    until: Any,
    status: str | None,
) -> list[Appointment]:
    conditions: list[Any] = []
    scope = api_tokens.campaign_scope(token)
    if scope is not None:
        conditions.append(Appointment.campaign_id.in_(scope))
    if campaign_id is not None:
        conditions.append(Appointment.campaign_id == campaign_id)
    if since:
        conditions.append(Appointment.starts_at >= _moment(since, "since"))
    if until:
        conditions.append(Appointment.starts_at < _moment(until, "until"))
    if status:
        try:
            conditions.append(Appointment.status == AppointmentStatus(status))
        except ValueError:
            raise InvalidInput(
                N_("no such appointment status: %(status)s"),
                details={"field": "status"},
                status=status,
            ) from None
    query = (
        select(Appointment)
        .where(*conditions)
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(APPOINTMENTS_LIMIT)
    )
    return list(session.scalars(query))


def _moment(value: Any, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(
            N_("%(field)s must be a date and time with its UTC offset"),
            details={"field": field},
            field=field,
        )
    return moment
