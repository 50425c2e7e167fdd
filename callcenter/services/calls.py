"""Applying the dialer's call.* events to `calls` rows (and what follows from
them: the agent's state, the screen pop, settling a lead no agent talked to).

Each event is applied once per handler: a `processed_events` row is written
in the same transaction, so a redelivered event changes nothing. What was
applied for the first time is recorded as a domain event of the transaction
(`callcenter.after_commit.record_event`), so whoever counts events on commit
(the live floor) counts each one once, even when the bus delivers it again
after Redis lost its data."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, literal, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from callcenter import after_commit, row_locks
from callcenter.domain_events import CustomerOnCall
from callcenter.errors import N_, InvalidInput, NotFound
from callcenter.events import (
    CallAnswered,
    CallConnected,
    CallDialing,
    CallEnded,
    CallRinging,
    Event,
    PreviewOffered,
    TransferProgressed,
)
from callcenter.models import (
    AgentStatus,
    Call,
    CallStateChange,
    Campaign,
    Customer,
    Lead,
    User,
)
from callcenter.realtime import emit_after_commit
from callcenter.realtime.rooms import agent_room
from callcenter.services import (
    agents,
    applied_events,
    call_monitoring,
    lead_lifecycle,
    missed_ringbacks,
    transfers,
    webhooks,
    workstation,
)
from callcenter.states import (
    CALL_TRANSITIONS,
    DIALABLE_LEAD_STATES,
    AgentState,
    AmdAction,
    AmdResult,
    CallDirection,
    CallOutcome,
    CallState,
    advance,
)

log = logging.getLogger(__name__)

HANDLER = "calls"
CALL_ENDED = "call_ended"

# Built once: a statement built on every event costs its construction and its
# cache key each time (bench/call_events).
_CALL_STATE = select(Call.state).where(Call.id == bindparam("call_id"))
_CUSTOMER_NAME = (
    select(Customer.title, Customer.first_name, Customer.last_name)
    .join(Lead, Lead.customer_id == Customer.id)
    .where(Lead.id == bindparam("lead_id"))
)
# Append-only and read by nothing later in the transaction: one INSERT, not an
# ORM object (its instance state and unit-of-work flush cost more than the row).
_RECORD_MOVE = insert(cast(Table, CallStateChange.__table__))
# The usual moves of a call the session holds no copy of (which the UPDATE
# would leave stale), each in one guarded UPDATE (which locks the row as
# `_call` would) instead of a locked read of the whole row and its flush. No
# row: the call is in another state (or not written yet), and the event takes
# the whole way.
_CALLS = cast(Table, Call.__table__)
_RING = (
    update(_CALLS)
    .where(_CALLS.c.id == bindparam("call_id"), _CALLS.c.state == CallState.DIALING)
    .values(state=CallState.RINGING, ringing_at=bindparam("at"))
    .returning(_CALLS.c.id)
)
_ANSWER = (
    update(_CALLS)
    .where(_CALLS.c.id == bindparam("call_id"), _CALLS.c.state == CallState.RINGING)
    .values(state=CallState.ANSWERED, answered_at=bindparam("at"))
    .returning(_CALLS.c.lead_id)
)
_ANSWER_WITH_AMD = _ANSWER.values(
    amd_result=bindparam("amd_result"),
    amd_action=bindparam("amd_action"),
    amd_decision_ms=bindparam("amd_decision_ms"),
)
# The end of an outbound call no agent was on or held for: its state change
# written from the row it locks (no row: the call is not one of these, or not
# written yet), then the row in one UPDATE that returns what the lead's
# settling and the webhooks need.
_ENDS_UNCONNECTED = [
    state
    for state in (CallState.DIALING, CallState.RINGING, CallState.ANSWERED)
    if CallState.ENDED in CALL_TRANSITIONS[state]
]
_MOVES = cast(Table, CallStateChange.__table__)
_RECORD_UNCONNECTED_END = (
    insert(_MOVES)
    .from_select(
        ["call_id", "from_state", "to_state", "at"],
        select(
            _CALLS.c.id,
            _CALLS.c.state,
            literal(CallState.ENDED, _MOVES.c.to_state.type),
            bindparam("at", type_=_MOVES.c.at.type),
        )
        .where(
            _CALLS.c.id == bindparam("call_id"),
            _CALLS.c.state.in_(_ENDS_UNCONNECTED),
            _CALLS.c.agent_id.is_(None),
            _CALLS.c.connected_at.is_(None),
            _CALLS.c.direction == CallDirection.OUTBOUND,
        )
        .with_for_update(),
    )
    .returning(_MOVES.c.id)
)
_END_UNCONNECTED = (
    update(_CALLS)
    .where(_CALLS.c.id == bindparam("call_id"))
    .values(
        state=CallState.ENDED,
        outcome=bindparam("ended_as"),
        ended_at=bindparam("at"),
        answered_at=func.coalesce(
            _CALLS.c.answered_at, bindparam("answered", type_=_CALLS.c.answered_at.type)
        ),
        sip_status=bindparam("status"),
        sip_reason=bindparam("reason"),
    )
    .returning(*(_CALLS.c[name] for name in webhooks.CALL_COLUMNS), webhooks.ANY_ACTIVE)
)


def apply_event(session: Session, event: Event, *, handler: str = HANDLER) -> bool:
    """Apply one bus event; False when it was applied before."""
    if not applied_events.first_application(session, event.event_id, handler):
        return False
    if isinstance(event, CallDialing):
        on_dialing(session, event)
    elif isinstance(event, CallRinging):
        on_ringing(session, event)
    elif isinstance(event, CallAnswered):
        on_answered(session, event)
    elif isinstance(event, CallConnected):
        on_connected(session, event)
    elif isinstance(event, CallEnded):
        on_ended(session, event)
    elif isinstance(event, TransferProgressed):
        transfers.apply_progress(session, event)
    elif isinstance(event, PreviewOffered):
        workstation.offer_preview(
            session, event.agent_id, event.campaign_id, event.lead_id, now=event.occurred_at
        )
    session.flush()
    after_commit.record_event(session, event)
    return True


def on_dialing(session: Session, event: CallDialing) -> None:
    """The dialer wrote the calls row before it dialed (`open_call`): only a
    call injected without it (tests, a preview request) is opened here."""
    state = session.scalar(_CALL_STATE, {"call_id": event.call_id})
    if state is None:
        state = _opened(session, event).state
    if event.agent_id is not None and state is not CallState.ENDED:
        _hold_agent_for_preview(session, event.agent_id, event.call_id, event.occurred_at)


def _opened(session: Session, event: CallDialing) -> Call:
    return open_call(
        session,
        call_id=event.call_id,
        campaign_id=event.campaign_id,
        lead_id=event.lead_id,
        attempt=event.attempt,
        agent_id=event.agent_id,
        dialer_id=event.dialer_id,
        at=event.occurred_at,
        phone_e164=event.phone_e164,
        is_manual=event.is_manual,
        direction=CallDirection(event.direction),
    )


def open_call(
    session: Session,
    *,
    call_id: str,
    campaign_id: int,
    lead_id: int,
    attempt: int,
    agent_id: int | None,
    dialer_id: str | None,
    at: datetime,
    phone_e164: str | None = None,
    is_manual: bool = False,
    direction: CallDirection = CallDirection.OUTBOUND,
) -> Call:
    """The calls row of an attempt, in DIALING. The dialer writes it before
    it dials, so the call's later events, which consumers in several
    processes may apply in any order, always find it."""
    call = _dialing_call(
        session,
        call_id=call_id,
        campaign_id=campaign_id,
        lead_id=lead_id,
        attempt=attempt,
        agent_id=agent_id,
        dialer_id=dialer_id,
        at=at,
        phone_e164=phone_e164,
        is_manual=is_manual,
        direction=direction,
    )
    session.flush()
    return call


@dataclass(frozen=True, slots=True)
class OpeningCall:
    """An attempt the pacer places (no agent of its own): its calls row to write."""

    call_id: str
    campaign_id: int
    lead_id: int
    attempt: int
    phone_e164: str


_OPENING = (
    select(
        Lead.id,
        Lead.campaign_id,
        Lead.customer_id,
        Lead.state,
        Lead.attempts,
        Customer.phone_e164,
        Campaign.script_version_id,
    )
    .join(Customer, Customer.id == Lead.customer_id)
    .join(Campaign, Campaign.id == Lead.campaign_id)
    .where(Lead.id.in_(bindparam("lead_ids", expanding=True)))
)
"""A tick's leads, for `open_calls` (built once: the dialer opens calls every tick)."""
# RETURNING makes SQLAlchemy send a batch of rows as one multi-row INSERT
# ("insertmanyvalues"); without it psycopg sends a statement a row.
_OPEN_CALLS = insert(_CALLS).returning(_CALLS.c.id)
_OPEN_MOVES = insert(_MOVES).returning(_MOVES.c.id)


def open_calls(
    session: Session, opening: Sequence[OpeningCall], *, dialer_id: str | None, at: datetime
) -> None:
    """`open_call` for several attempts, as Core rows: their leads (with the
    customer's number and the campaign's script) read at once, then one
    INSERT of the calls and one of their first moves."""
    if not opening:
        return
    facts = {
        row.id: row for row in session.execute(_OPENING, {"lead_ids": [o.lead_id for o in opening]})
    }
    calls_rows, moves_rows = [], []
    for attempt in opening:
        lead = facts.get(attempt.lead_id)
        if lead is None or lead.campaign_id != attempt.campaign_id:
            raise NotFound(
                N_("no such lead in this campaign"), details={"lead_id": attempt.lead_id}
            )
        if lead.state in DIALABLE_LEAD_STATES and lead.attempts < attempt.attempt:
            # as _dialing_call: a lead the hopper did not claim is claimed here
            lead_lifecycle.claim_attempt(session, lead.id, now=at, campaign_id=attempt.campaign_id)
        calls_rows.append(
            {
                "id": attempt.call_id,
                "campaign_id": attempt.campaign_id,
                "lead_id": lead.id,
                "customer_id": lead.customer_id,
                "agent_id": None,
                "attempt": attempt.attempt,
                "phone_e164": attempt.phone_e164 or lead.phone_e164,
                "is_preview": False,
                "is_manual": False,
                "direction": CallDirection.OUTBOUND,
                "state": CallState.DIALING,
                "dialed_at": at,
                "script_version_id": lead.script_version_id,
                "dialer_id": dialer_id,
            }
        )
        moves_rows.append(
            {
                "call_id": attempt.call_id,
                "from_state": None,
                "to_state": CallState.DIALING,
                "at": at,
            }
        )
    session.execute(_OPEN_CALLS, calls_rows).all()
    session.execute(_OPEN_MOVES, moves_rows).all()


def _dialing_call(
    session: Session,
    *,
    call_id: str,
    campaign_id: int,
    lead_id: int,
    attempt: int,
    agent_id: int | None,
    dialer_id: str | None,
    at: datetime,
    phone_e164: str | None = None,
    is_manual: bool = False,
    direction: CallDirection = CallDirection.OUTBOUND,
) -> Call:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.campaign_id != campaign_id:
        raise NotFound(N_("no such lead in this campaign"), details={"lead_id": lead_id})
    if lead.state in DIALABLE_LEAD_STATES and lead.attempts < attempt:
        # Calls injected without the hopper (tests, a preview request) claim here.
        # A late event of an attempt already claimed (and given back when its
        # dialer was lost) must not claim the lead again.
        lead = lead_lifecycle.claim_attempt(session, lead.id, now=at, campaign_id=campaign_id)
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    call = Call(
        id=call_id,
        campaign_id=campaign_id,
        lead_id=lead.id,
        customer_id=lead.customer_id,
        agent_id=agent_id,
        attempt=attempt,
        phone_e164=phone_e164 or lead.customer.phone_e164,
        is_preview=agent_id is not None and not is_manual,
        is_manual=is_manual,
        direction=direction,
        state=CallState.DIALING,
        dialed_at=at,
        script_version_id=campaign.script_version_id,
        dialer_id=dialer_id,
    )
    session.add(call)
    session.add(
        CallStateChange(call_id=call.id, from_state=None, to_state=CallState.DIALING, at=at)
    )
    return call


def _hold_agent_for_preview(session: Session, agent_id: int, call_id: str, at: datetime) -> None:
    status = agents.status_of(session, agent_id, lock=True)
    if status.state is AgentState.READY:
        agents.change_state(session, agent_id, AgentState.RESERVED, call_id=call_id, now=at)
    elif status.state is AgentState.RESERVED:
        status.current_call_id = call_id
        session.flush()


def on_ringing(session: Session, event: CallRinging) -> None:
    at = event.occurred_at
    loaded = _in_session(session, event.call_id)
    if not loaded and session.scalar(_RING, {"call_id": event.call_id, "at": at}) is not None:
        _record_move(session, event.call_id, CallState.DIALING, CallState.RINGING, at)
        return
    call = _call(session, event.call_id)
    if call.state is CallState.DIALING:
        _move(session, call, CallState.RINGING, at)
        call.ringing_at = at


def on_answered(session: Session, event: CallAnswered) -> None:
    lead_id = _answered_from_ringing(session, event)
    if lead_id is None:
        call = _call(session, event.call_id)
        if call.state in (CallState.DIALING, CallState.RINGING):
            _move(session, call, CallState.ANSWERED, event.occurred_at)
            call.answered_at = event.occurred_at
        elif call.answered_at is None:
            # Its end came first (another consumer applied it) and knew no
            # answer time: the answer is still a live answer in the reports.
            call.answered_at = event.occurred_at
        _record_amd(call, event.amd_result, event.amd_decision_ms, event.amd_action)
        lead_id = call.lead_id
    name = session.execute(_CUSTOMER_NAME, {"lead_id": lead_id}).first()
    if name is not None:
        _customer_on_call(session, event.call_id, *name)


def _answered_from_ringing(session: Session, event: CallAnswered) -> int | None:
    """The answer of a ringing call in one UPDATE; its lead, or None when the
    call is not ringing (or the session holds its row)."""
    if _in_session(session, event.call_id):
        return None
    at = event.occurred_at
    params: dict[str, object] = {"call_id": event.call_id, "at": at}
    amd = _amd_verdict(event.call_id, event.amd_result, event.amd_action)
    if amd is not None:
        params.update(amd_result=amd[0], amd_action=amd[1], amd_decision_ms=event.amd_decision_ms)
    lead_id = session.scalar(_ANSWER if amd is None else _ANSWER_WITH_AMD, params)
    if lead_id is not None:
        _record_move(session, event.call_id, CallState.RINGING, CallState.ANSWERED, at)
    return lead_id


def _in_session(session: Session, call_id: str) -> bool:
    return identity_key(Call, call_id) in session.identity_map


def _customer_on_call(
    session: Session, call_id: str, title: str | None, first: str | None, last: str | None
) -> None:
    """Read in the event's transaction, not by the live floor in a session of
    its own after the commit."""
    after_commit.record_event(
        session, CustomerOnCall(call_id=call_id, title=title, first_name=first, last_name=last)
    )


def _record_amd(
    call: Call, result: str | None, decision_ms: int | None, action: str | None
) -> None:
    """The answering-machine verdict, when the call had detection."""
    amd = _amd_verdict(call.id, result, action)
    if amd is not None:
        call.amd_result, call.amd_action = amd
        call.amd_decision_ms = decision_ms


def _amd_verdict(
    call_id: str, result: str | None, action: str | None
) -> tuple[AmdResult, AmdAction | None] | None:
    """None when the call had no detection, or for a value the product does
    not know (left out; the call itself still counts)."""
    if result is None:
        return None
    try:
        return AmdResult(result), AmdAction(action) if action is not None else None
    except ValueError:
        log.warning("call %s: unknown AMD verdict %r / %r", call_id, result, action)
        return None


def on_connected(session: Session, event: CallConnected) -> Call:
    """An agent is on the call: the agent goes on_call and the screen pops."""
    call = _call(session, event.call_id)
    if call.state is CallState.ENDED and call.connected_at is None:
        _free_agent_held_for(session, event.agent_id, call, event.occurred_at)
        return call
    if call.state is CallState.CONNECTED or call.state is CallState.ENDED:
        return call
    _connect(session, call, event.agent_id, at=event.occurred_at)
    return call


def _connect(session: Session, call: Call, agent_id: int, *, at: datetime) -> None:
    if call.agent_id is not None and call.agent_id != agent_id:
        raise InvalidInput(
            N_("the call is held for another agent"),
            details={"call_id": call.id, "agent_id": agent_id},
        )
    # A script row is an agent's move on their own call: a call no agent
    # had until now (its row locked) has none.
    path_empty = call.agent_id is None
    _load_for_pop(session, agent_id, call.campaign_id)
    # The agent's changes first, the call's after: its row is then written
    # once, by start_script's flush, not also by a flush of the agent's.
    status = agents.status_of(session, agent_id, lock=True)
    if status.state is AgentState.READY:
        agents.change_state(session, agent_id, AgentState.RESERVED, call_id=call.id, now=at)
    agents.change_state(session, agent_id, AgentState.ON_CALL, call_id=call.id, now=at)
    if call.answered_at is None:
        call.answered_at = at
    call.agent_id = agent_id
    call.connected_at = at
    _move(session, call, CallState.CONNECTED, at)
    with session.no_autoflush:  # its reads do not need the call's row written first
        workstation.start_script(session, call, now=at, path_empty=path_empty)
    emit_after_commit(
        session,
        workstation.SCREEN_POP,
        workstation.screen_pop(session, call, now=at, first_connect=True),
        room=agent_room(agent_id),
    )
    customer = call.lead.customer  # the pop read them
    _customer_on_call(session, call.id, customer.title, customer.first_name, customer.last_name)


# two rows by their keys: a join with no condition, said so (no cartesian
# product warning in the logs at every pop)
_FOR_POP = (
    select(User, Campaign)
    .join(Campaign, true())
    .where(User.id == bindparam("agent_id"), Campaign.id == bindparam("campaign_id"))
)


def _load_for_pop(session: Session, agent_id: int, campaign_id: int) -> None:
    """The agent's user and the call's campaign, which the agent's state
    payload, the script and the pop all read, in one statement (the
    transaction then holds them) unless the session holds them already."""
    held = session.identity_map
    if identity_key(User, agent_id) in held and identity_key(Campaign, campaign_id) in held:
        return
    session.execute(_FOR_POP, {"agent_id": agent_id, "campaign_id": campaign_id}).all()


def on_ended(session: Session, event: CallEnded) -> None:
    if _ended_unconnected(session, event):
        return
    call, around = _call_to_end(session, event.call_id)
    if call.state is not CallState.ENDED:
        _end(session, call, event, around)
    if call.connected_at is not None:  # monitoring starts on a connected call only
        call_monitoring.call_ended(session, call.id, event.occurred_at)


def _ended_unconnected(session: Session, event: CallEnded) -> bool:
    """`_end` of an outbound call no agent was on or held for, with no
    answering-machine verdict to check, in two statements and no ORM row;
    False (nothing done) for any other call, or one the session holds."""
    if event.agent_id is not None or event.amd_result is not None:
        return False
    if _in_session(session, event.call_id):
        return False
    at = event.occurred_at
    moved = session.execute(_RECORD_UNCONNECTED_END, {"call_id": event.call_id, "at": at})
    if moved.first() is None:
        return False
    outcome = _outcome(event)
    answered = event.answered_seconds
    ended = session.execute(
        _END_UNCONNECTED,
        {
            "call_id": event.call_id,
            "at": at,
            "ended_as": outcome,
            "answered": at - timedelta(seconds=answered) if answered is not None else None,
            "status": event.sip_status,
            "reason": _sip_reason(event),
        },
    ).one()
    _settle_lead(session, event.call_id, ended.lead_id, outcome, at)
    webhooks.enqueue(
        session, "call.ended", webhooks.call_data(ended), any_active=ended.webhooks_active
    )
    return True


def _outcome(event: CallEnded) -> CallOutcome:
    try:
        return CallOutcome(event.outcome)
    except ValueError:
        return CallOutcome.FAILED


def _sip_reason(event: CallEnded) -> str | None:
    return (event.sip_reason or "")[:120] or None


@dataclass(frozen=True)
class AroundTheEnd:
    """Read with a call's locked row for its end, not after it alone: whether
    any webhook is active (`webhooks.enqueue`'s `any_active`) and the
    campaign's wrap-up limit (the agent's screen counts it down)."""

    webhooks_active: bool
    wrap_up_limit_seconds: int


_CALL_TO_END = (
    select(Call, webhooks.ANY_ACTIVE, Campaign.wrap_up_limit_seconds)
    .join(Campaign, Campaign.id == Call.campaign_id)
    .where(Call.id == bindparam("call_id"))
    .with_for_update(of=Call)
    .execution_options(populate_existing=True)
)


def _call_to_end(session: Session, call_id: str) -> tuple[Call, AroundTheEnd | None]:
    """`_call` with what its end reads beside it; None beside a call the
    transaction had locked already (it is not read again)."""
    if row_locks.held(session, Call, call_id):
        return _call(session, call_id), None
    row = session.execute(_CALL_TO_END, {"call_id": call_id}).first()
    if row is None:
        raise NotFound(N_("no such call"), details={"call_id": call_id})
    row_locks.mark(session, Call, call_id)
    call, webhooks_active, wrap_up_limit = row
    return call, AroundTheEnd(bool(webhooks_active), wrap_up_limit)


def _end(
    session: Session, call: Call, event: CallEnded, around: AroundTheEnd | None = None
) -> None:
    outcome = _outcome(event)
    at = event.occurred_at
    if event.agent_id is not None and call.connected_at is None:
        # Its call.connected is still on its way (another consumer has it):
        # what the dialer says here connects the call first.
        _connect(session, call, event.agent_id, at=at - timedelta(seconds=event.talk_seconds or 0))
    _move(session, call, CallState.ENDED, at)
    call.outcome = outcome
    call.ended_at = at
    if event.answered_seconds is not None and call.answered_at is None:
        call.answered_at = at - timedelta(seconds=event.answered_seconds)
    _record_amd(call, event.amd_result, event.amd_decision_ms, event.amd_action)
    call.sip_status = event.sip_status
    call.sip_reason = _sip_reason(event)
    session.flush()
    if call.connected_at is not None and call.agent_id is not None:
        _to_wrap_up(session, call, at, around)
    else:
        _release_unconnected(session, call, outcome, at)
    any_active = around.webhooks_active if around else True
    webhooks.enqueue(session, "call.ended", webhooks.call_data(call), any_active=any_active)


def _to_wrap_up(session: Session, call: Call, at: datetime, around: AroundTheEnd | None) -> None:
    assert call.agent_id is not None
    status = agents.status_of(session, call.agent_id, lock=True)
    if status.state is AgentState.ON_CALL and status.current_call_id == call.id:
        agents.change_state(session, call.agent_id, AgentState.WRAP_UP, call_id=call.id, now=at)
    emit_after_commit(
        session,
        CALL_ENDED,
        {
            "call_id": call.id,
            "outcome": str(call.outcome),
            "ended_at": at.isoformat(),
            "wrap_up_limit_seconds": (
                around.wrap_up_limit_seconds
                if around
                else _wrap_up_limit(session, call.campaign_id)
            ),
        },
        room=agent_room(call.agent_id),
    )


_WRAP_UP_LIMIT = select(Campaign.wrap_up_limit_seconds).where(
    Campaign.id == bindparam("campaign_id")
)


def _wrap_up_limit(session: Session, campaign_id: int) -> int:
    """The campaign's column (as the session holds its row, or read alone)."""
    held = session.identity_map.get(identity_key(Campaign, campaign_id))
    if held is not None:
        return cast(Campaign, held).wrap_up_limit_seconds
    return session.execute(_WRAP_UP_LIMIT, {"campaign_id": campaign_id}).scalar_one()


def _release_unconnected(session: Session, call: Call, outcome: CallOutcome, at: datetime) -> None:
    """No agent talked to anyone: the lead is settled by the outcome alone,
    and a preview agent held for the call is free again."""
    if call.direction is CallDirection.INBOUND and outcome is CallOutcome.ABANDONED:
        missed_ringbacks.book_callback(session, call, at=at)
        return
    _settle_lead(session, call.id, call.lead_id, outcome, at)
    if call.agent_id is None:
        return
    status = session.scalar(select(AgentStatus).where(AgentStatus.agent_id == call.agent_id))
    if status is not None and status.state is AgentState.RESERVED:
        agents.release_reserved(session, call.agent_id, call_id=call.id, now=at)
        emit_after_commit(
            session,
            CALL_ENDED,
            {"call_id": call.id, "outcome": str(outcome), "ended_at": at.isoformat()},
            room=agent_room(call.agent_id),
        )


def _settle_lead(
    session: Session, call_id: str, lead_id: int, outcome: CallOutcome, at: datetime
) -> None:
    settled = CallOutcome.FAILED if outcome is CallOutcome.ANSWERED else outcome
    lead_lifecycle.settle_dialing_attempt(
        session, lead_id=lead_id, call_id=call_id, outcome=settled, now=at
    )


def _free_agent_held_for(session: Session, agent_id: int, call: Call, at: datetime) -> None:
    """call.connected applied after call.ended (the consumers shared them and
    one was held up): the agent the dialer reserved for the call is free."""
    status = agents.status_of(session, agent_id, lock=True)
    if status.state is AgentState.RESERVED and status.current_call_id in (None, call.id):
        log.warning("call %s: connected to agent %s after it ended", call.id, agent_id)
        agents.release_reserved(session, agent_id, call_id=call.id, now=at)


def _call(session: Session, call_id: str) -> Call:
    """The call row, locked: consumers in several processes may apply two
    events of one call at once, and each must see what the other wrote.
    Locked once per transaction (a read's events of one call are applied
    together): the session's row is then the latest."""
    if row_locks.held(session, Call, call_id):
        held = session.get(Call, call_id)
        if held is not None:
            return held
    call = session.get(Call, call_id, with_for_update=True, populate_existing=True)
    if call is None:
        raise NotFound(N_("no such call"), details={"call_id": call_id})
    row_locks.mark(session, Call, call_id)
    return call


def _move(session: Session, call: Call, to_state: CallState, at: datetime) -> None:
    _record_move(session, call.id, call.state, to_state, at)
    call.state = to_state


def _record_move(
    session: Session, call_id: str, from_state: CallState, to_state: CallState, at: datetime
) -> None:
    advance(CALL_TRANSITIONS, from_state, to_state, subject=f"call {call_id}")
    session.execute(
        _RECORD_MOVE, {"call_id": call_id, "from_state": from_state, "to_state": to_state, "at": at}
    )
