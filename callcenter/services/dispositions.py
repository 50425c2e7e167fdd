"""The agent's disposition of a call, and the end of wrap-up.

One `dispositions` row per handled call, with one of the campaign's codes
(`disposition_codes`); the lead moves through `lead_lifecycle.settle_attempt`
by the code's category (which adds the number to DNC at once for dnc and
writes the Callback row for callback). An answering machine
that reached the agent (the campaign's detection off, or it missed) makes
the call's outcome `machine`: from then on it counts as a machine, not as a
live answer or a contact, in every report and on the live floor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from callcenter import after_commit
from callcenter.db import utcnow
from callcenter.domain_events import CallMarkedMachine, WrapUpEnded
from callcenter.errors import N_, Conflict, InvalidInput
from callcenter.models import (
    AgentStatus,
    Call,
    Campaign,
    CampaignDisposition,
    Disposition,
    DispositionCode,
)
from callcenter.realtime import emit_after_commit
from callcenter.realtime.rooms import agent_room
from callcenter.services import (
    agents,
    appointments,
    disposition_codes,
    lead_lifecycle,
    webhooks,
    workstation,
)
from callcenter.services.call_access import refuse_unless_open
from callcenter.services.disposition_codes import ChosenDisposition
from callcenter.states import AgentState, CallOutcome, CallState, DispositionCategory

WRAP_UP_DONE = "wrap_up_done"


def parse_callback_at(value: Any, now: datetime) -> datetime:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            N_("choose the callback date and time"), details={"field": "callback_at"}
        ) from None
    if when.tzinfo is None:
        raise InvalidInput(N_("the callback time has no zone"), details={"field": "callback_at"})
    if when <= now:
        raise InvalidInput(
            N_("the callback must be in the future"), details={"field": "callback_at"}
        )
    return when


def set_disposition(
    session: Session,
    agent_id: int,
    call_id: Any,
    code: Any,
    *,
    notes: Any = None,
    callback_at: Any = None,
    callback_mine: bool = True,
    rejection: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Disposition:
    """Record the disposition once the call has ended and end the wrap-up:
    ready again at once when the campaign says so, else on the agent's word.
    `notes` sent replace the note saved as the agent typed; None keeps it."""
    now = now or utcnow()
    call, disposed, chosen_row, webhooks_active = _call_to_dispose(session, agent_id, call_id, code)
    chosen = disposition_codes.chosen_from(chosen_row)
    if call.state is not CallState.ENDED:
        raise Conflict(
            N_("the call is still connected; hang up first"), details={"call_id": call.id}
        )
    if disposed:
        raise Conflict(N_("this call already has a disposition"), details={"call_id": call.id})
    when = None
    if chosen.category is DispositionCategory.CALLBACK:
        when = parse_callback_at(callback_at, now)
        if appointments.booked_on_call(session, call.id) is not None:
            raise InvalidInput(
                N_(
                    "a meeting was booked on this call: set appointment set, "
                    "or cancel the meeting before booking a callback"
                ),
                details={"field": "code"},
            )
    machine = chosen.code == DispositionCode.ANSWERING_MACHINE
    if rejection and rejection.get("reason_code") and not machine:
        workstation.record_rejection(
            session,
            agent_id,
            call.id,
            rejection.get("step"),
            rejection.get("reason_code"),
            rejection.get("reason_text"),
            now=now,
        )
    if chosen.code == DispositionCode.NOT_INTERESTED and (
        workstation.rejection_of(session, call.id) is None
    ):
        raise InvalidInput(
            N_("record at which step and why the customer said no"), details={"field": "rejection"}
        )
    if chosen.category is DispositionCategory.APPOINTMENT and (
        appointments.booked_on_call(session, call.id) is None
    ):
        raise InvalidInput(N_("book the meeting first (steps 5-7)"), details={"field": "code"})
    if machine:
        if appointments.booked_on_call(session, call.id) is not None:
            raise InvalidInput(
                N_("a meeting was booked on this call: a person answered"),
                details={"field": "code"},
            )
        if call.outcome is not None and call.outcome is not CallOutcome.MACHINE:
            after_commit.record_event(session, _marked_machine(call))
        call.outcome = CallOutcome.MACHINE
    text = workstation.final_notes(session, agent_id, call.id, notes)
    return _close(
        session,
        call,
        chosen,
        notes=text,
        now=now,
        callback_at=when,
        callback_agent_id=agent_id if callback_mine else None,
        webhooks_active=webhooks_active,
    )


_CALL_TO_DISPOSE = (
    select(Call, Campaign, Disposition.id, CampaignDisposition, webhooks.ANY_ACTIVE)
    .join(Campaign, Campaign.id == Call.campaign_id)
    .outerjoin(Disposition, Disposition.call_id == Call.id)
    .outerjoin(CampaignDisposition, disposition_codes.ACTIVE_CODE_OF_CALL)
    .where(Call.id == bindparam("call_id"))
)
"""Built once: every disposition reads the call, whether it has one already,
its campaign (whose rules settle the lead and end the wrap-up, read from the
session then), the chosen code (`ACTIVE_CODE_OF_CALL`) and whether any
webhook is subscribed (`webhooks.enqueue`)."""


def _call_to_dispose(
    session: Session, agent_id: int, call_id: Any, code: Any
) -> tuple[Call, bool, CampaignDisposition | None, bool]:
    """`open_call`, whether the call has a disposition, the campaign's active
    code `code` and whether a webhook is active, in one read."""
    row = session.execute(
        _CALL_TO_DISPOSE, {"call_id": str(call_id or ""), "code": str(code or "")}
    ).first()
    call = row.Call if row is not None else None
    refuse_unless_open(agent_id, call_id, call)
    assert row is not None and call is not None
    return call, row.id is not None, row.CampaignDisposition, bool(row.webhooks_active)


def set_disposition_and_pause(
    session: Session,
    agent_id: int,
    call_id: Any,
    code: Any,
    pause_reason: Any,
    *,
    notes: Any = None,
    callback_at: Any = None,
    callback_mine: bool = True,
    rejection: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[Disposition, AgentStatus]:
    """ "Save and pause": the disposition, then the pause, in the caller's one
    transaction, both or neither (a disposition refused leaves no pause
    waiting). The pause is asked for first, as F3 in the wrap-up asks for it:
    kept for the wrap-up's end (`decide_request`), the disposition ends the
    wrap-up there (`after_wrap_up`), never through Ready."""
    now = now or utcnow()
    # The call before the agent, as the disposition and the wrap-up's expiry take them.
    workstation.open_call(session, agent_id, call_id, lock=True)
    agents.pause(session, agent_id, pause_reason, now=now)
    disposition = set_disposition(
        session,
        agent_id,
        call_id,
        code,
        notes=notes,
        callback_at=callback_at,
        callback_mine=callback_mine,
        rejection=rejection,
        now=now,
    )
    return disposition, agents.status_of(session, agent_id)


def _close(
    session: Session,
    call: Call,
    chosen: ChosenDisposition,
    *,
    notes: str,
    now: datetime,
    callback_at: datetime | None = None,
    callback_agent_id: int | None = None,
    timed_out: bool = False,
    webhooks_active: bool = True,
) -> Disposition:
    """The call's one disposition, the lead's attempt settled by it, the wrap-up
    over. `webhooks_active`: False when no webhook was active as the call was read."""
    assert call.agent_id is not None
    disposition = Disposition(
        call_id=call.id,
        code=chosen.code,
        category=chosen.category,
        notes=notes,
        agent_id=call.agent_id,
    )
    session.add(disposition)
    session.flush()
    lead_lifecycle.settle_attempt(
        session,
        lead_id=call.lead_id,
        call_id=call.id,
        outcome=_outcome(call),
        disposition=chosen,
        callback_at=callback_at,
        callback_agent_id=callback_agent_id,
        actor_id=call.agent_id,
        now=now,
    )
    finish_wrap_up(session, call, timed_out=timed_out, now=now)
    webhooks.enqueue(
        session,
        "disposition.set",
        {
            "call_id": call.id,
            "campaign_id": call.campaign_id,
            "lead_id": call.lead_id,
            "agent_id": call.agent_id,
            "code": disposition.code,
            "category": str(disposition.category),
            "notes": disposition.notes,
            "timed_out": timed_out,
        },
        now=now,
        any_active=webhooks_active,
    )
    return disposition


def _marked_machine(call: Call) -> CallMarkedMachine:
    return CallMarkedMachine(
        call_id=call.id,
        campaign_id=call.campaign_id,
        dialed_at=call.dialed_at,
        answered_at=call.answered_at,
        connected_at=call.connected_at,
        agent_id=call.agent_id,
    )


def _outcome(call: Call) -> CallOutcome:
    return call.outcome if call.outcome is not None else CallOutcome.ANSWERED


def finish_wrap_up(session: Session, call: Call, *, timed_out: bool = False, now: datetime) -> None:
    assert call.agent_id is not None
    call.wrap_up_ended_at = now
    if call.ended_at is not None:
        ended = WrapUpEnded(
            call_id=call.id,
            campaign_id=call.campaign_id,
            dialed_at=call.dialed_at,
            seconds=(now - call.ended_at).total_seconds(),
        )
        after_commit.record_event(session, ended)
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    status = agents.end_wrap_up(
        session,
        call.agent_id,
        call.id,
        auto_ready=campaign.auto_ready_after_wrap_up,
        timed_out=timed_out,
        now=now,
    )
    session.flush()
    emit_after_commit(
        session,
        WRAP_UP_DONE,
        {
            "call_id": call.id,
            "ready": status.state is AgentState.READY,
            "state": str(status.state),
            "timed_out": timed_out,
        },
        room=agent_room(call.agent_id),
    )


def time_out_wrap_up(
    session: Session, call: Call, *, notes: Any = None, now: datetime | None = None
) -> Disposition:
    """Close a wrap-up no disposition came for: the server's `wrap_up_timeout`
    disposition (reports show it), the lead tried again by the campaign's
    rules, the agent paused (never Ready: nobody may be at the screen). The
    notes the agent's screen saved as they typed are kept."""
    now = now or utcnow()
    assert call.agent_id is not None
    return _close(
        session,
        call,
        disposition_codes.WRAP_UP_TIMEOUT,
        notes=workstation.final_notes(session, call.agent_id, call.id, notes),
        now=now,
        timed_out=True,
    )


def expire_wrap_up(
    session: Session, agent_id: int, call_id: Any, *, notes: Any = None, now: datetime | None = None
) -> Disposition | None:
    """The screen says the wrap-up time ran out: closed as the server would
    (`time_out_wrap_up`), with the notes typed so far. The server does it
    anyway when no screen is left (`wrap_ups.expire_overdue`)."""
    now = now or utcnow()
    call = workstation.open_call(session, agent_id, call_id, lock=True)
    if call.state is not CallState.ENDED:
        return None
    if not wrap_up_overdue(session, call, now=now, grace_seconds=1):
        raise Conflict(N_("the wrap-up time has not run out yet"), details={"call_id": call.id})
    return time_out_wrap_up(session, call, notes=notes, now=now)


def wrap_up_overdue(
    session: Session, call: Call, *, now: datetime, grace_seconds: float = 0
) -> bool:
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None and call.ended_at is not None
    limit = campaign.wrap_up_limit_seconds - grace_seconds
    return (now - call.ended_at).total_seconds() >= limit
