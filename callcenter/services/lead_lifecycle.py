"""A lead's attempts: claimed for dialing, then settled by the call's outcome
and the agent's disposition, following the campaign's rules.

`claim_attempt` is the final guard against dialing a lead twice for the same
attempt (a conditional UPDATE) and against dialing a do-not-call number (the
DNC list is read again at the moment of dialing)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CursorResult,
    Integer,
    Row,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from callcenter.db import Database, utcnow
from callcenter.errors import N_, Conflict, InvalidInput, NotFound
from callcenter.models import (
    Call,
    Callback,
    CallbackStatus,
    Campaign,
    Customer,
    DispositionCode,
    DncEntry,
    Lead,
    LeadStateChange,
)
from callcenter.services import dnc, sms, webhooks
from callcenter.services.campaigns import delay_minutes
from callcenter.services.disposition_codes import ChosenDisposition
from callcenter.services.hopper_feed import ON_A_DISABLED_LIST
from callcenter.states import (
    DIALABLE_LEAD_STATES,
    LEAD_TRANSITIONS,
    MANUALLY_DIALABLE_LEAD_STATES,
    CallDirection,
    CallOutcome,
    DispositionCategory,
    LeadState,
    advance,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class LeadBlocked(Conflict):
    """The lead's number is on a do-not-call list; it must not be dialed."""

    error_id = "lead-on-dnc"


class AttemptsExhausted(Conflict):
    error_id = "lead-attempts-exhausted"


# Outcomes after which the lead is simply tried again later (or exhausted).
_RETRY_OUTCOMES = frozenset(
    {
        CallOutcome.BUSY,
        CallOutcome.NO_ANSWER,
        CallOutcome.MACHINE,
        CallOutcome.ABANDONED,
        CallOutcome.FAILED,
        CallOutcome.DECLINED,
        CallOutcome.CANCELLED,
    }
)
# Where a disposition's category leaves the lead (retry and callback are timed apart).
_SETTLED_BY_CATEGORY = {
    DispositionCategory.APPOINTMENT: LeadState.APPOINTMENT,
    DispositionCategory.SALE: LeadState.SALE,
    DispositionCategory.FINAL: LeadState.REJECTED,
    DispositionCategory.DNC: LeadState.DNC,
}
# Retry codes the product knows: the lead's history names the call's outcome, as before.
_REASON_IS_THE_OUTCOME = frozenset(
    {DispositionCode.NO_DECISION.value, DispositionCode.ANSWERING_MACHINE.value}
)
# A final code the product knows to mean the number itself is wrong.
_INVALID_NUMBER_CODES = frozenset({DispositionCode.WRONG_NUMBER.value})


def claim_attempt(
    session: Session,
    lead_id: int,
    *,
    now: datetime,
    campaign_id: int | None = None,
    manual_phone: str | None = None,
) -> Lead:
    """Move a dialable lead to DIALING and count the attempt, atomically.

    Raises Conflict when the lead is not dialable any more (someone else
    claimed it, it was settled meanwhile, its list was disabled, or it was
    moved out of `campaign_id`, the campaign the caller dials it for),
    LeadBlocked when its number is on the global or the campaign's DNC list,
    AttemptsExhausted at max_attempts since its last reset (a callback the
    customer asked for is exempt).

    `manual_phone`: an agent dials this number of the lead by hand; the
    states an agent may dial are wider and max_attempts does not apply (the
    agent chose to call), DNC still does."""
    _claim(session, lead_id, now=now, campaign_id=campaign_id, manual_phone=manual_phone)
    lead = session.get(Lead, lead_id, populate_existing=True)
    assert lead is not None
    return lead


@dataclass(frozen=True, slots=True)
class _ClaimFacts:
    """What a claim is decided on, read before anything is written."""

    lead_id: int
    state: LeadState
    attempts: int
    attempts_before_reset: int
    campaign_id: int
    phone: str


_FACTS = select(
    Lead.id,
    Lead.state,
    Lead.attempts,
    Lead.attempts_before_reset,
    Lead.campaign_id,
    Customer.phone_e164,
).join(Customer, Customer.id == Lead.customer_id)


def _claim(
    session: Session,
    lead_id: int,
    *,
    now: datetime,
    campaign_id: int | None = None,
    manual_phone: str | None = None,
) -> int:
    """`claim_attempt`'s checks and writes; the attempt number. Every refusal
    is raised before anything is written."""
    row = session.execute(_FACTS.where(Lead.id == lead_id)).one_or_none()
    if row is None:
        raise NotFound(N_("no such lead"), details={"lead_id": lead_id})
    facts = _ClaimFacts(*row)
    attempt = _claim_checked(
        session,
        facts,
        now=now,
        campaign_id=campaign_id,
        manual_phone=manual_phone,
        disabled=lambda: bool(session.scalar(select(ON_A_DISABLED_LIST.where(Lead.id == lead_id)))),
        blocked=lambda: dnc.is_blocked(session, manual_phone or facts.phone, facts.campaign_id),
        max_attempts=lambda: session.scalar(
            select(Campaign.max_attempts).where(Campaign.id == facts.campaign_id)
        ),
    )
    session.flush()
    return attempt


def _claim_checked(
    session: Session,
    facts: _ClaimFacts,
    *,
    now: datetime,
    campaign_id: int | None,
    manual_phone: str | None,
    disabled: Callable[[], bool],
    blocked: Callable[[], bool],
    max_attempts: Callable[[], int | None],
) -> int:
    """The claim's checks in their order (each read asked only when it is
    reached), then the guarded update; the LeadStateChange row is added,
    not flushed. Every refusal is raised before anything is written."""
    lead_id, attempts = facts.lead_id, facts.attempts
    dialable = _checked(
        facts,
        campaign_id=campaign_id,
        manual_phone=manual_phone,
        disabled=disabled,
        blocked=blocked,
        max_attempts=max_attempts,
    )
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Lead)
        .where(
            Lead.id == lead_id,
            Lead.campaign_id == facts.campaign_id,
            Lead.state.in_(dialable),
            Lead.attempts == attempts,
            ~ON_A_DISABLED_LIST,
        )
        .values(
            state=LeadState.DIALING,
            attempts=attempts + 1,
            last_attempt_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise _taken_meanwhile(lead_id)
    session.add(LeadStateChange(**_state_change(facts, now=now, manual_phone=manual_phone)))
    return attempts + 1


def _checked(
    facts: _ClaimFacts,
    *,
    campaign_id: int | None,
    manual_phone: str | None,
    disabled: Callable[[], bool],
    blocked: Callable[[], bool],
    max_attempts: Callable[[], int | None],
) -> frozenset[LeadState]:
    """The claim's refusals, raised in their order; the states the guarded
    update may find the lead in."""
    lead_id = facts.lead_id
    dialable = MANUALLY_DIALABLE_LEAD_STATES if manual_phone else DIALABLE_LEAD_STATES
    if campaign_id is not None and facts.campaign_id != campaign_id:
        raise Conflict(N_("lead moved to another campaign"), details={"lead_id": lead_id})
    state, attempts = facts.state, facts.attempts
    if state not in dialable:
        raise Conflict(
            N_("lead is not dialable"), details={"lead_id": lead_id, "state": str(state)}
        )
    if disabled():
        raise Conflict(N_("lead's list is disabled"), details={"lead_id": lead_id})
    if blocked():
        raise LeadBlocked(N_("number is on a do-not-call list"), details={"lead_id": lead_id})
    exempt = state is LeadState.CALLBACK or manual_phone is not None
    if not exempt:
        limit = max_attempts()
        if limit is not None and attempts - facts.attempts_before_reset >= limit:
            raise AttemptsExhausted(
                N_("lead reached the campaign's max attempts"),
                details={"lead_id": lead_id, "attempts": attempts},
            )
    advance(LEAD_TRANSITIONS, state, LeadState.DIALING, subject=f"lead {lead_id}")
    return dialable


@dataclass(frozen=True, slots=True)
class ClaimByHand:
    """An agent's manual dial's claim: the attempt, and the lead's state
    change that made it (the claim stands while that is the lead's latest)."""

    attempt: int
    claim_id: int


def claim_by_hand(session: Session, lead_id: int, *, phone: str, now: datetime) -> ClaimByHand:
    """`claim_attempt` for an agent dialing `phone` by hand, with the claim's id."""
    attempt = claim_attempt(session, lead_id, now=now, manual_phone=phone).attempts
    claim_id = session.scalar(_LATEST_CHANGE.where(LeadStateChange.lead_id == lead_id))
    assert claim_id is not None
    return ClaimByHand(attempt=attempt, claim_id=claim_id)


def claim_stands(session: Session, lead_id: int, *, attempt: int, claim_id: int) -> bool:
    """Nothing has happened to the lead since this claim: not settled,
    released, given back or claimed again, and the attempt not dialed."""
    found = session.scalar(select(Lead.id).where(_still_claimed(lead_id, attempt, claim_id)))
    return found is not None


def give_back_unplaced(
    session: Session, lead_id: int, *, attempt: int, claim_id: int, reason: str, now: datetime
) -> bool:
    """Undo a claim whose call was never placed (an agent's manual dial that
    no dialer could place): the lead goes back to the state it was claimed
    from, the attempt not counted. False, changing nothing, when the claim
    no longer stands (`claim_stands`)."""
    claimed_from = session.scalar(
        select(LeadStateChange.from_state).where(
            LeadStateChange.id == claim_id,
            LeadStateChange.lead_id == lead_id,
            LeadStateChange.to_state == LeadState.DIALING,
        )
    )
    if claimed_from is None:
        return False
    advance(LEAD_TRANSITIONS, LeadState.DIALING, claimed_from, subject=f"lead {lead_id}")
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Lead)
        .where(_still_claimed(lead_id, attempt, claim_id))
        .values(state=claimed_from, attempts=attempt - 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.add(
        LeadStateChange(
            lead_id=lead_id,
            from_state=LeadState.DIALING,
            to_state=claimed_from,
            reason=reason,
            at=now,
        )
    )
    session.flush()
    return True


def claims_by_hand_from_closed(session: Session, lead_ids: Sequence[int]) -> dict[int, int]:
    """Of these leads in DIALING, those whose claim came from a state only an
    agent dials by hand (rejected, exhausted): their claim's id by lead."""
    if not lead_ids:
        return {}
    latest = (
        select(func.max(LeadStateChange.id).label("id"))
        .where(LeadStateChange.lead_id.in_(lead_ids), LeadStateChange.to_state == LeadState.DIALING)
        .group_by(LeadStateChange.lead_id)
        .subquery()
    )
    rows = session.execute(
        select(LeadStateChange.lead_id, LeadStateChange.id)
        .join(latest, latest.c.id == LeadStateChange.id)
        .where(LeadStateChange.from_state.in_(_DIALED_BY_HAND_ONLY))
    )
    return {lead_id: claim_id for lead_id, claim_id in rows}


_DIALED_BY_HAND_ONLY = MANUALLY_DIALABLE_LEAD_STATES - DIALABLE_LEAD_STATES


_LATEST_CHANGE = select(func.max(LeadStateChange.id))


def _still_claimed(lead_id: int, attempt: int, claim_id: int) -> ColumnElement[bool]:
    latest = _LATEST_CHANGE.where(LeadStateChange.lead_id == Lead.id).scalar_subquery()
    dialed = exists().where(Call.lead_id == Lead.id, Call.attempt == attempt)
    return and_(
        Lead.id == lead_id,
        Lead.state == LeadState.DIALING,
        Lead.attempts == attempt,
        latest == claim_id,
        ~dialed,
    )


def _taken_meanwhile(lead_id: int) -> Conflict:
    return Conflict(
        N_("lead was claimed, moved or its list disabled meanwhile"),
        details={"lead_id": lead_id},
    )


def _state_change(facts: _ClaimFacts, *, now: datetime, manual_phone: str | None) -> dict[str, Any]:
    """The LeadStateChange of a claim, as column values."""
    return {
        "lead_id": facts.lead_id,
        "from_state": facts.state,
        "to_state": LeadState.DIALING,
        "reason": f"attempt {facts.attempts + 1}" + (" (dialed by hand)" if manual_phone else ""),
        "at": now,
    }


def claim_counting_dnc(
    database: Database, lead_id: int, *, now: datetime, campaign_id: int | None = None
) -> int:
    """`claim_attempt` in a unit of work of its own; returns the attempt
    number. A dial refused for DNC is counted as a prevented hit in a second
    unit of work (the refusal rolls the first one back)."""
    try:
        with database.unit_of_work() as session:
            return _claim(session, lead_id, now=now, campaign_id=campaign_id)
    except LeadBlocked:
        with database.unit_of_work() as session:
            dnc.count_refused_dial(session, lead_id, now=now)
        raise


_BATCH_CAMPAIGN: BindParameter[int] = bindparam("batch_campaign_id", type_=Integer)
_BATCH_FACTS = _FACTS.add_columns(
    ON_A_DISABLED_LIST.label("disabled"),
    exists()
    .where(
        DncEntry.phone_e164 == Customer.phone_e164,
        or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == _BATCH_CAMPAIGN),
    )
    .label("blocked"),
    select(Campaign.max_attempts)
    .where(Campaign.id == _BATCH_CAMPAIGN)
    .scalar_subquery()
    .label("max_attempts"),
)
"""`_FACTS` with, for each lead, what the checks of a batch read: its list
disabled, its number on the global or the batch campaign's DNC list (as
`dnc.blocked_among`), and the batch campaign's max attempts."""
_BATCH_FACTS_OF = _BATCH_FACTS.where(Lead.id.in_(bindparam("lead_ids", expanding=True)))
_CLAIM_TOGETHER = (
    update(Lead)
    .where(
        tuple_(Lead.id, Lead.attempts).in_(bindparam("as_read", expanding=True)),
        Lead.campaign_id == bindparam("of_campaign"),
        Lead.state.in_(DIALABLE_LEAD_STATES),
        ~ON_A_DISABLED_LIST,
    )
    .values(
        state=LeadState.DIALING,
        attempts=Lead.attempts + 1,
        last_attempt_at=bindparam("claimed_at"),
        updated_at=bindparam("claimed_at"),
    )
    .returning(Lead.id)
    .execution_options(synchronize_session=False)
)
"""The batch's statements, built once: a tick's claims built them anew, and
building (its cache key) cost more than running them."""


def claim_many_counting_dnc(
    database: Database, lead_ids: Sequence[int], *, now: datetime, campaign_id: int
) -> dict[int, int | Conflict | NotFound]:
    """`claim_counting_dnc` for several leads of one campaign in one unit of
    work (one commit for a tick's launches): each lead's attempt number, or
    the refusal it got; a refused lead changes nothing but its DNC count. The
    checks' reads are one statement for all of them, and so is the guarded
    update: a lead is claimed only when it is still as read (same campaign,
    a dialable state, the same attempts, its list enabled), else refused as
    taken meanwhile. A lead asked for twice is refused. A database error
    rolls every claim of the batch back."""
    claimed: dict[int, int | Conflict | NotFound] = {}
    asked = Counter(lead_ids)
    with database.unit_of_work() as session:
        rows = session.execute(
            _BATCH_FACTS_OF, {"lead_ids": list(asked), "batch_campaign_id": campaign_id}
        )
        found = {row.id: row for row in rows}
        passing: list[_ClaimFacts] = []
        for lead_id in asked:
            row = found.get(lead_id)
            try:
                if row is None:
                    raise NotFound(N_("no such lead"), details={"lead_id": lead_id})
                if asked[lead_id] > 1:
                    raise _taken_meanwhile(lead_id)
                facts = _ClaimFacts(*row[:6])
                _checked(
                    facts,
                    campaign_id=campaign_id,
                    manual_phone=None,
                    disabled=_known(bool(row.disabled)),
                    blocked=_known(bool(row.blocked)),
                    max_attempts=_known(row.max_attempts),
                )
                passing.append(facts)
            except LeadBlocked as exc:
                dnc.count_refused_dial(session, lead_id, now=now)
                claimed[lead_id] = exc
            except (Conflict, NotFound) as exc:
                claimed[lead_id] = exc
        taken = _claim_together(session, campaign_id, passing, now=now)
        for facts in passing:
            won = facts.lead_id in taken
            claimed[facts.lead_id] = facts.attempts + 1 if won else _taken_meanwhile(facts.lead_id)
    return claimed


def _known(value: T) -> Callable[[], T]:
    """A check's read already made (for the whole batch)."""
    return lambda: value


def _claim_together(
    session: Session, campaign_id: int, passing: Sequence[_ClaimFacts], *, now: datetime
) -> set[int]:
    """One guarded UPDATE for leads whose checks passed (each matches only
    as read), their LeadStateChange rows in one INSERT; the leads claimed."""
    if not passing:
        return set()
    as_read = [(facts.lead_id, facts.attempts) for facts in passing]
    taken = set(
        session.scalars(
            _CLAIM_TOGETHER, {"as_read": as_read, "of_campaign": campaign_id, "claimed_at": now}
        )
    )
    changes = [
        _state_change(facts, now=now, manual_phone=None)
        for facts in passing
        if facts.lead_id in taken
    ]
    if changes:
        session.execute(insert(LeadStateChange), changes)
    return taken


def settle_attempt(
    session: Session,
    *,
    lead_id: int,
    call_id: str | None,
    outcome: CallOutcome,
    disposition: ChosenDisposition | None = None,
    callback_at: datetime | None = None,
    callback_agent_id: int | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> Lead:
    """Move a lead out of DIALING after its call, by the campaign's rules.

    Settling the same call twice is a no-op (bus handlers may see an event
    again). A callback disposition needs `callback_at`; its Callback row is
    for `callback_agent_id` only, or for anyone when that is None."""
    lead = _locked_lead(session, lead_id)
    if lead is None:
        raise NotFound(N_("no such lead"), details={"lead_id": lead_id})
    if lead.state is not LeadState.DIALING and _already_settled(session, lead_id, call_id):
        return lead
    if lead.state is not LeadState.DIALING and _inbound(session, call_id):
        return lead  # a customer rang back about a closed lead: it is not reopened
    return _settle(
        session,
        lead,
        call_id=call_id,
        outcome=outcome,
        disposition=disposition,
        callback_at=callback_at,
        callback_agent_id=callback_agent_id,
        actor_id=actor_id,
        now=now or utcnow(),
    )


def settle_dialing_attempt(
    session: Session, *, lead_id: int, call_id: str, outcome: CallOutcome, now: datetime
) -> None:
    """`settle_attempt` for a call no agent talked to, when its lead is still
    DIALING (a lead given back or settled already is left as it is).

    By statements (`_settle_by_statements`) unless the session holds the
    lead or a callback as an object, which the statements would leave stale:
    then through the ORM object, as `settle_attempt`."""
    if _holds_rows_a_settle_writes(session, lead_id):
        lead = _locked_lead(session, lead_id)
        if lead is not None and lead.state is LeadState.DIALING:
            _settle(session, lead, call_id=call_id, outcome=outcome, now=now)
        return
    _settle_by_statements(session, lead_id=lead_id, call_id=call_id, outcome=outcome, now=now)


def _holds_rows_a_settle_writes(session: Session, lead_id: int) -> bool:
    if identity_key(Lead, lead_id) in session.identity_map:
        return True
    held = (*session.identity_map.values(), *session.new)
    return any(isinstance(row, Callback) for row in held)


# Built once: a statement built on every call costs its construction and its
# cache key each time (bench/call_events).
_LOCKED_LEAD = (
    select(Lead)
    .where(Lead.id == bindparam("lead_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_CLOSE_PENDING_CALLBACKS = {
    closed_as: update(Callback)
    .where(Callback.lead_id == bindparam("of_lead"), Callback.status == CallbackStatus.PENDING)
    .values(status=closed_as)  # a value, not a parameter: the session's rows are updated to it
    .execution_options(synchronize_session="fetch")
    for closed_as in (CallbackStatus.DONE, CallbackStatus.MISSED)
}

_LEADS = cast(Table, Lead.__table__)
_CAMPAIGNS = cast(Table, Campaign.__table__)
_CALLBACKS = cast(Table, Callback.__table__)
_LEAD_CHANGES = cast(Table, LeadStateChange.__table__)


_CLAIMED_FROM = (
    select(_LEAD_CHANGES.c.from_state)
    .where(_LEAD_CHANGES.c.to_state == LeadState.DIALING)
    .order_by(_LEAD_CHANGES.c.id.desc())
    .limit(1)
)
"""The state a lead's latest attempt was claimed from (where its lead)."""


def _of_its_campaign(column: Any) -> Any:
    return select(column).where(_CAMPAIGNS.c.id == _LEADS.c.campaign_id).scalar_subquery()


_LEAD_TO_SETTLE = (
    select(
        _LEADS.c.id,
        _LEADS.c.state,
        _LEADS.c.attempts,
        _LEADS.c.attempts_before_reset,
        _LEADS.c.campaign_id,
        _LEADS.c.customer_id,
        _of_its_campaign(_CAMPAIGNS.c.max_attempts).label("max_attempts"),
        _of_its_campaign(_CAMPAIGNS.c.retry_delays_minutes).label("retry_delays"),
        _CLAIMED_FROM.where(_LEAD_CHANGES.c.lead_id == _LEADS.c.id)
        .scalar_subquery()
        .label("claimed_from"),
    )
    .where(_LEADS.c.id == bindparam("lead_id"))
    .with_for_update(of=_LEADS)
)
"""A settle's locked read: the lead's columns it decides by, the state its
attempt was claimed from, and its campaign's rules (`_settle_by_statements`)."""

_LEAD_ID = bindparam("of_lead", type_=_LEADS.c.id.type)
_CALLBACKS_CLOSED = {
    closed_as: update(_CALLBACKS)
    .where(_CALLBACKS.c.lead_id == _LEAD_ID, _CALLBACKS.c.status == CallbackStatus.PENDING)
    .values(status=closed_as)
    for closed_as in (CallbackStatus.DONE, CallbackStatus.MISSED)
}
_LEAD_CHANGE = insert(_LEAD_CHANGES).values(
    lead_id=_LEAD_ID,
    from_state=bindparam("from", type_=_LEAD_CHANGES.c.from_state.type),
    to_state=bindparam("to", type_=_LEAD_CHANGES.c.to_state.type),
    reason=bindparam("why", type_=_LEAD_CHANGES.c.reason.type),
    call_id=bindparam("by_call", type_=_LEAD_CHANGES.c.call_id.type),
    at=bindparam("settled_at", type_=_LEAD_CHANGES.c.at.type),
)
_LEAD_SETTLED = (
    update(_LEADS)
    .where(_LEADS.c.id == _LEAD_ID)
    .values(
        state=bindparam("to", type_=_LEADS.c.state.type),
        next_attempt_at=bindparam("next_at", type_=_LEADS.c.next_attempt_at.type),
        last_outcome=bindparam("outcome", type_=_LEADS.c.last_outcome.type),
        updated_at=bindparam("settled_at", type_=_LEADS.c.updated_at.type),
    )
)
_SETTLE_WRITTEN = {
    closed_as: _LEAD_SETTLED.add_cte(closed.cte("closed")).add_cte(_LEAD_CHANGE.cte("changed"))
    for closed_as, closed in _CALLBACKS_CLOSED.items()
}
"""A settle's three writes in one statement (PostgreSQL; SQLite runs the three)."""


def _settle_by_statements(
    session: Session, *, lead_id: int, call_id: str, outcome: CallOutcome, now: datetime
) -> None:
    """`_settle` of a lead still DIALING, with no disposition, and no ORM
    object: one locked read, then the callbacks' close, the state change
    and the lead's row by statement (one on PostgreSQL).

    The lead's columns are the locked row's as its last writer committed it,
    even after a wait for that writer's lock (PostgreSQL reads the locked row
    again). Its campaign's rules may be read as they were before the wait,
    as they were by `_settle` when the session held the campaign. The writes
    are a statement after the lock: they see what the transaction waited
    for committed, a callback it booked included."""
    lead = session.execute(_LEAD_TO_SETTLE, {"lead_id": lead_id}).first()
    if lead is None or lead.state is not LeadState.DIALING:
        return
    used = lead.attempts - lead.attempts_before_reset
    target, reason = _next_state(used, lead.max_attempts, outcome, None, None)
    target, reason = _still_closed(lead.claimed_from, target, reason)
    advance(LEAD_TRANSITIONS, lead.state, target, subject=f"lead {lead_id}")
    next_attempt_at = None
    if target is LeadState.RETRY:
        next_attempt_at = now + timedelta(minutes=_retry_minutes(lead.retry_delays, outcome, None))
    closed_as = CallbackStatus.DONE if outcome is CallOutcome.ANSWERED else CallbackStatus.MISSED
    written = {
        "of_lead": lead_id,
        "from": lead.state,
        "to": target,
        "why": reason,
        "by_call": call_id,
        "settled_at": now,
        "next_at": next_attempt_at,
        "outcome": str(outcome),
    }
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_SETTLE_WRITTEN[closed_as], written)
    else:
        session.execute(_CALLBACKS_CLOSED[closed_as], written)
        session.execute(_LEAD_CHANGE, written)
        session.execute(_LEAD_SETTLED, written)
    if target is LeadState.EXHAUSTED:
        _exhausted(session, lead, str(outcome), now=now)


def _exhausted(
    session: Session, lead: Lead | Row[Any], last_outcome: str, *, now: datetime
) -> None:
    webhooks.enqueue(
        session,
        "lead.exhausted",
        {
            "lead_id": lead.id,
            "campaign_id": lead.campaign_id,
            "customer_id": lead.customer_id,
            "attempts": lead.attempts,
            "last_outcome": last_outcome,
        },
        now=now,
    )


def _locked_lead(session: Session, lead_id: int) -> Lead | None:
    return session.scalar(_LOCKED_LEAD, {"lead_id": lead_id})


def _settle(
    session: Session,
    lead: Lead,
    *,
    call_id: str | None,
    outcome: CallOutcome,
    now: datetime,
    disposition: ChosenDisposition | None = None,
    callback_at: datetime | None = None,
    callback_agent_id: int | None = None,
    actor_id: int | None = None,
) -> Lead:
    campaign = session.get(Campaign, lead.campaign_id)
    assert campaign is not None
    used = lead.attempts - lead.attempts_before_reset
    target, reason = _next_state(used, campaign.max_attempts, outcome, disposition, callback_at)
    if target is LeadState.RETRY:
        claimed_from = session.scalar(_CLAIMED_FROM.where(_LEAD_CHANGES.c.lead_id == lead.id))
        target, reason = _still_closed(claimed_from, target, reason)
    advance(LEAD_TRANSITIONS, lead.state, target, subject=f"lead {lead.id}")
    close_pending_callbacks(session, lead.id, answered=outcome is CallOutcome.ANSWERED)
    lead.next_attempt_at = None
    if target is LeadState.RETRY:
        lead.next_attempt_at = now + timedelta(
            minutes=_retry_minutes(campaign.retry_delays_minutes, outcome, disposition)
        )
    elif target is LeadState.CALLBACK:
        assert callback_at is not None
        lead.next_attempt_at = callback_at
        callback = Callback(
            lead_id=lead.id,
            customer_id=lead.customer_id,
            campaign_id=lead.campaign_id,
            due_at=callback_at,
            assigned_agent_id=callback_agent_id,
            created_by_id=_callback_creator(actor_id, callback_agent_id),
            call_id=call_id,
        )
        session.add(callback)
        session.flush()
        sms.queue_for_callback(session, callback, now=now)
    elif target is LeadState.DNC:
        phone = session.scalar(select(Customer.phone_e164).where(Customer.id == lead.customer_id))
        assert phone is not None
        dnc.add_number(
            session,
            phone,
            campaign_id=None,
            source="agent",
            reason="asked not to be called",
            actor_id=actor_id,
        )
    session.add(
        LeadStateChange(
            lead_id=lead.id,
            from_state=lead.state,
            to_state=target,
            reason=reason,
            call_id=call_id,
            at=now,
        )
    )
    lead.state = target
    lead.last_outcome = disposition.code if disposition is not None else str(outcome)
    lead.updated_at = now
    session.flush()
    if target is LeadState.EXHAUSTED:
        assert lead.last_outcome is not None
        _exhausted(session, lead, lead.last_outcome, now=now)
    return lead


def lead_for_customer(
    session: Session, campaign: Campaign, customer: Customer, *, reason: str, now: datetime
) -> Lead:
    """The customer's lead in the campaign, or a NEW one with its first state
    change (why it was made: `reason`) when they have none there."""
    lead = session.scalar(
        select(Lead)
        .where(Lead.campaign_id == campaign.id, Lead.customer_id == customer.id)
        .order_by(Lead.id)
        .limit(1)
    )
    if lead is not None:
        return lead
    lead = Lead(
        campaign_id=campaign.id,
        customer_id=customer.id,
        state=LeadState.NEW,
        fields={},
        created_at=now,
        updated_at=now,
    )
    session.add(lead)
    session.flush()
    session.add(
        LeadStateChange(
            lead_id=lead.id, from_state=None, to_state=LeadState.NEW, reason=reason, at=now
        )
    )
    return lead


def release_stale_attempts(session: Session, *, older_than: timedelta, now: datetime) -> int:
    """Send leads stuck in DIALING (their worker died before settling) back to
    RETRY, due now. Returns how many. Run by the dialer at start and
    periodically; `older_than` must exceed the longest possible call."""
    stuck = session.scalars(
        select(Lead).where(Lead.state == LeadState.DIALING, Lead.last_attempt_at < now - older_than)
    )
    released = return_to_retry(
        session, stuck, reason="attempt never settled (dialer stopped)", now=now
    )
    if released:
        log.warning("released %d leads stuck in dialing", released)
    return released


def return_to_retry(session: Session, leads: Iterable[Lead], *, reason: str, now: datetime) -> int:
    """Put leads whose attempt was lost back to RETRY, due now, saying why."""
    count = 0
    for lead in leads:
        advance(LEAD_TRANSITIONS, lead.state, LeadState.RETRY, subject=f"lead {lead.id}")
        session.add(
            LeadStateChange(
                lead_id=lead.id,
                from_state=lead.state,
                to_state=LeadState.RETRY,
                reason=reason,
                at=now,
            )
        )
        lead.state = LeadState.RETRY
        lead.next_attempt_at = now
        lead.updated_at = now
        count += 1
    session.flush()
    return count


def _next_state(
    used: int,
    max_attempts: int,
    outcome: CallOutcome,
    disposition: ChosenDisposition | None,
    callback_at: datetime | None,
) -> tuple[LeadState, str]:
    if outcome is CallOutcome.INVALID_NUMBER:
        return LeadState.INVALID, "invalid number"
    category = disposition.category if disposition is not None else None
    if category is DispositionCategory.CALLBACK:
        if callback_at is None:
            raise InvalidInput(N_("a callback needs a time"), details={"field": "callback_at"})
        return LeadState.CALLBACK, "callback booked"
    if disposition is not None and category in _SETTLED_BY_CATEGORY:
        if disposition.code in _INVALID_NUMBER_CODES:
            return LeadState.INVALID, f"disposition {disposition.code}"
        return _SETTLED_BY_CATEGORY[category], f"disposition {disposition.code}"
    if disposition is not None and disposition.code == DispositionCode.WRAP_UP_TIMEOUT:
        reason = "wrap-up timed out"
    elif disposition is not None and disposition.code not in _REASON_IS_THE_OUTCOME:
        reason = f"disposition {disposition.code}"
    elif outcome is CallOutcome.ANSWERED:
        reason = "no decision"
    else:
        reason = f"outcome {outcome}"
    if outcome not in _RETRY_OUTCOMES and outcome is not CallOutcome.ANSWERED:
        raise InvalidInput(
            N_("unexpected outcome %(outcome)s"), details={"outcome": str(outcome)}, outcome=outcome
        )
    if used >= max_attempts:
        return LeadState.EXHAUSTED, f"{reason}; max attempts reached"
    return LeadState.RETRY, reason


def _still_closed(
    claimed_from: LeadState | None, target: LeadState, reason: str
) -> tuple[LeadState, str]:
    """An agent's call by hand to a customer who had said no, that settled
    nothing (no answer, no decision): the lead stays rejected, not a retry
    the dialer would call on its own."""
    if claimed_from is LeadState.REJECTED and target is LeadState.RETRY:
        return LeadState.REJECTED, f"{reason}; dialed by hand, rejected before"
    return target, reason


def _retry_minutes(
    delays: dict[str, Any] | None, outcome: CallOutcome, disposition: ChosenDisposition | None
) -> int:
    """The code's own minutes, else the campaign's delay: "no_decision" for a
    person who answered, the outcome's for the rest (a machine, say)."""
    if disposition is not None and disposition.retry_minutes is not None:
        return disposition.retry_minutes
    talked = disposition is not None and outcome is CallOutcome.ANSWERED
    return delay_minutes(delays, "no_decision" if talked else str(outcome))


def _inbound(session: Session, call_id: str | None) -> bool:
    if call_id is None:
        return False
    direction = session.scalar(select(Call.direction).where(Call.id == call_id))
    return direction is CallDirection.INBOUND


def _already_settled(session: Session, lead_id: int, call_id: str | None) -> bool:
    if call_id is None:
        return False
    query = select(LeadStateChange.id).where(
        LeadStateChange.lead_id == lead_id,
        LeadStateChange.call_id == call_id,
        LeadStateChange.from_state == LeadState.DIALING,
    )
    return session.scalar(query.limit(1)) is not None


def close_pending_callbacks(session: Session, lead_id: int, *, answered: bool) -> None:
    closed_as = CallbackStatus.DONE if answered else CallbackStatus.MISSED
    session.execute(_CLOSE_PENDING_CALLBACKS[closed_as], {"of_lead": lead_id})


def _callback_creator(actor_id: int | None, callback_agent_id: int | None) -> int:
    creator = actor_id if actor_id is not None else callback_agent_id
    if creator is None:
        raise InvalidInput(
            N_("a callback needs the agent who booked it"), details={"field": "actor"}
        )
    return creator
