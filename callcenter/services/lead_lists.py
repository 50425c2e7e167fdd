"""A campaign's lead lists as a manager works them: switch a list off and on,
give exhausted leads another round (all of them, or those whose last outcome
was X and were last tried N hours ago or more), move a list to another
campaign, and see how far into a list the dialer has got. Every change is in
the audit log.

A recycled or reset lead keeps its `attempts` (they number its calls) and
gets a fresh allowance: `attempts_before_reset` moves up to `attempts`, and
the campaign's max attempts count from there."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, case, distinct, func, insert, or_, select, update
from sqlalchemy.orm import Session

from callcenter.errors import N_, Conflict, InvalidInput
from callcenter.metrics import APPOINTMENT_SET, OUTBOUND, SALE, TALKED
from callcenter.models import (
    Call,
    Callback,
    CallbackStatus,
    Campaign,
    CampaignStatus,
    DispositionCode,
    Lead,
    LeadList,
    LeadStateChange,
    User,
)
from callcenter.services import audit
from callcenter.states import LEAD_TRANSITIONS, CallOutcome, LeadState, advance

# The last outcomes a lead can be exhausted with: the call's outcome, or the
# disposition of a talk that decided nothing.
RECYCLABLE_OUTCOMES: tuple[str, ...] = tuple(
    str(outcome)
    for outcome in (
        CallOutcome.BUSY,
        CallOutcome.NO_ANSWER,
        CallOutcome.MACHINE,
        CallOutcome.ABANDONED,
        CallOutcome.FAILED,
        CallOutcome.DECLINED,
        CallOutcome.CANCELLED,
        DispositionCode.NO_DECISION,
        DispositionCode.WRAP_UP_TIMEOUT,
        DispositionCode.ANSWERING_MACHINE,
    )
)
MAX_RECYCLE_HOURS = 24 * 365
_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Penetration:
    """How far into a list the dialer has got: leads dialed at least once,
    contacted (an agent talked to them, on a dial or when they rang back:
    metrics.TALKED) and
    converted (an appointment or a sale on one of its calls)."""

    leads: int = 0
    dialed: int = 0
    contacted: int = 0
    converted: int = 0
    exhausted: int = 0

    def percent(self, part: int) -> float | None:
        return None if not self.leads else round(100.0 * part / self.leads, 1)


@dataclass(frozen=True, slots=True)
class MoveResult:
    moved: int
    kept: int  # the customer already has a lead in the target campaign


def penetration(session: Session, lead_list_ids: Sequence[int]) -> dict[int, Penetration]:
    """Penetration of each list (lists with no lead get zeros). One pass over
    the lists' leads and their calls (found by the calls' lead_id index)."""
    if not lead_list_ids:
        return {}

    def leads_where(condition: Any) -> Any:
        return func.count(distinct(case((condition, Call.lead_id))))

    query = (
        select(
            Lead.lead_list_id,
            func.count(distinct(Lead.id)),
            leads_where(OUTBOUND),
            leads_where(TALKED),
            leads_where(or_(APPOINTMENT_SET, SALE)),
            func.count(distinct(case((Lead.state == LeadState.EXHAUSTED, Lead.id)))),
        )
        .outerjoin(Call, Call.lead_id == Lead.id)
        .where(Lead.lead_list_id.in_(lead_list_ids))
        .group_by(Lead.lead_list_id)
    )
    found = {
        row[0]: Penetration(*(int(value or 0) for value in row[1:]))
        for row in session.execute(query)
    }
    return {list_id: found.get(list_id, Penetration()) for list_id in lead_list_ids}


def set_enabled(
    session: Session, lead_list: LeadList, enabled: bool, *, actor: User | None
) -> None:
    """A disabled list's leads stay as they are but are not dialed (the hopper
    skips them and the claim refuses them) until it is enabled again."""
    if lead_list.is_enabled is enabled:
        return
    lead_list.is_enabled = enabled
    session.flush()
    _audit(session, "lead_list.enabled" if enabled else "lead_list.disabled", lead_list, actor)


def recycle(
    session: Session,
    lead_list: LeadList,
    *,
    outcome: str,
    older_than_hours: int,
    actor: User | None,
    now: datetime,
) -> int:
    """Exhausted leads of the list whose last outcome is `outcome` and whose
    last attempt is at least `older_than_hours` old go back to the queue, due
    now, with a fresh set of attempts. Returns how many."""
    if outcome not in RECYCLABLE_OUTCOMES:
        raise InvalidInput(
            N_("%(outcome)s is not an outcome leads can be recycled from."),
            outcome=outcome,
            details={"field": "outcome"},
        )
    if not 0 <= older_than_hours <= MAX_RECYCLE_HOURS:
        raise InvalidInput(
            N_("Hours must be between 0 and %(most)s."),
            most=MAX_RECYCLE_HOURS,
            details={"field": "hours"},
        )
    cutoff = now - timedelta(hours=older_than_hours)
    count = _back_to_retry(
        session,
        lead_list,
        [
            Lead.last_outcome == str(outcome),
            or_(Lead.last_attempt_at.is_(None), Lead.last_attempt_at <= cutoff),
        ],
        reason=f"recycled: {outcome} over {older_than_hours} h ago",
        now=now,
    )
    _audit(
        session,
        "lead_list.recycled",
        lead_list,
        actor,
        outcome=str(outcome),
        older_than_hours=older_than_hours,
        leads=count,
    )
    return count


def reset_exhausted(
    session: Session, lead_list: LeadList, *, actor: User | None, now: datetime
) -> int:
    """Every exhausted lead of the list goes back to the queue, due now, with
    a fresh set of attempts. Returns how many."""
    count = _back_to_retry(session, lead_list, [], reason="exhausted leads reset", now=now)
    _audit(session, "lead_list.reset", lead_list, actor, leads=count)
    return count


def move_to_campaign(
    session: Session, lead_list: LeadList, target: Campaign, *, actor: User | None
) -> MoveResult:
    """Move the list and its leads (with their pending callbacks) to `target`.
    A lead whose customer is already in `target` stays where it is (a
    customer has one lead per campaign). Refused while one of the list's
    leads is being called."""
    if target.id == lead_list.campaign_id:
        raise InvalidInput(
            N_("The list is already in campaign %(name)s."),
            name=target.name,
            details={"field": "campaign"},
        )
    if target.status is CampaignStatus.ARCHIVED:
        raise InvalidInput(
            N_("Campaign %(name)s is archived."), name=target.name, details={"field": "campaign"}
        )
    source_id = lead_list.campaign_id
    on_call = session.scalar(
        select(func.count(Lead.id)).where(
            Lead.lead_list_id == lead_list.id, Lead.state == LeadState.DIALING
        )
    )
    if on_call:
        raise Conflict(
            N_(
                "%(count)s leads of list %(name)s are being called now. "
                "Disable the list, wait for those calls to end, then move it."
            ),
            count=on_call,
            name=lead_list.name,
        )
    already_there = select(Lead.customer_id).where(Lead.campaign_id == target.id)
    movable = [
        Lead.lead_list_id == lead_list.id,
        Lead.campaign_id == source_id,
        Lead.state != LeadState.DIALING,
        Lead.customer_id.not_in(already_there.scalar_subquery()),
    ]
    lead_ids = list(session.scalars(select(Lead.id).where(*movable)))
    for chunk in _chunks(lead_ids):
        session.execute(
            update(Lead)
            .where(Lead.id.in_(chunk), Lead.state != LeadState.DIALING)
            .values(campaign_id=target.id)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Callback)
            .where(Callback.lead_id.in_(chunk), Callback.status == CallbackStatus.PENDING)
            .values(campaign_id=target.id)
            .execution_options(synchronize_session=False)
        )
    kept = session.scalar(
        select(func.count(Lead.id)).where(
            Lead.lead_list_id == lead_list.id, Lead.campaign_id != target.id
        )
    )
    lead_list.campaign_id = target.id
    session.flush()
    session.expire_all()
    result = MoveResult(moved=len(lead_ids), kept=int(kept or 0))
    _audit(
        session,
        "lead_list.moved",
        lead_list,
        actor,
        from_campaign_id=source_id,
        to_campaign_id=target.id,
        leads=result.moved,
        kept=result.kept,
    )
    return result


def _back_to_retry(
    session: Session, lead_list: LeadList, conditions: Iterable[Any], *, reason: str, now: datetime
) -> int:
    advance(LEAD_TRANSITIONS, LeadState.EXHAUSTED, LeadState.RETRY, subject="exhausted leads")
    lead_ids = list(
        session.scalars(
            select(Lead.id).where(
                Lead.lead_list_id == lead_list.id, Lead.state == LeadState.EXHAUSTED, *conditions
            )
        )
    )
    count = 0
    for chunk in _chunks(lead_ids):
        result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Lead)
            .where(Lead.id.in_(chunk), Lead.state == LeadState.EXHAUSTED)
            .values(
                state=LeadState.RETRY,
                attempts_before_reset=Lead.attempts,
                next_attempt_at=now,
                updated_at=now,
            )
            .returning(Lead.id)
            .execution_options(synchronize_session=False)
        )
        changed = list(result.scalars())
        if changed:
            session.execute(
                insert(LeadStateChange),
                [
                    {
                        "lead_id": lead_id,
                        "from_state": LeadState.EXHAUSTED,
                        "to_state": LeadState.RETRY,
                        "reason": reason,
                        "at": now,
                    }
                    for lead_id in changed
                ],
            )
        count += len(changed)
    session.flush()
    session.expire_all()
    return count


def _audit(
    session: Session, action: str, lead_list: LeadList, actor: User | None, **details: Any
) -> None:
    audit.record(
        session,
        action,
        actor=actor,
        target_type="lead_list",
        target_id=lead_list.id,
        details={"name": lead_list.name, "campaign_id": lead_list.campaign_id, **details},
    )


def _chunks(items: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
