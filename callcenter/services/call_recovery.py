"""What a dialer does when it starts: close what a previous run left open.

A dialer that died mid-call leaves `calls` rows that will never get their
`call.ended`, leads in DIALING that will never be settled, and agents held
for calls that are gone. None of it may stay open or be lost: the calls are
ended with outcome `failed` ("dialer restarted"), their leads go back to be
tried again, and their agents are let go (to wrap-up when they were talking,
so the agent can still record what was said; to ready when only reserved).

`older_than` must exceed the longest a live call can last (ring timeout plus
the talk bound), so a call another running dialer still carries is never
touched. A lead claimed but never dialed (no calls row for its attempt: the
dialer died between the claim and `call.dialing`) goes back much sooner,
after `undialed_after`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session

from callcenter.models import AgentStatus, Call, CallStateChange, Lead
from callcenter.services import agents, lead_lifecycle
from callcenter.states import (
    CALL_TRANSITIONS,
    AgentState,
    CallOutcome,
    CallState,
    LeadState,
    advance,
)

log = logging.getLogger(__name__)

RESTART_REASON = "dialer restarted"


@dataclass(frozen=True)
class Recovery:
    calls_closed: list[str]
    leads_released: int
    agents_released: list[int]


def recover_after_restart(
    session: Session,
    *,
    now: datetime,
    older_than: timedelta,
    undialed_after: timedelta = timedelta(minutes=2),
) -> Recovery:
    calls = close_stale_calls(session, now=now, older_than=older_than)
    freed = release_stale_agents(session, now=now, older_than=older_than, call_ids=calls)
    released = release_undialed_leads(session, now=now, older_than=undialed_after)
    released += lead_lifecycle.release_stale_attempts(session, older_than=older_than, now=now)
    return Recovery(calls_closed=calls, leads_released=released, agents_released=freed)


def release_undialed_leads(session: Session, *, now: datetime, older_than: timedelta) -> int:
    """Leads in DIALING whose claimed attempt has no calls row: given back
    (`give_back_undialed`)."""
    dialed = exists().where(and_(Call.lead_id == Lead.id, Call.attempt == Lead.attempts))
    stuck = list(
        session.scalars(
            select(Lead).where(
                Lead.state == LeadState.DIALING,
                Lead.last_attempt_at < now - older_than,
                ~dialed,
            )
        )
    )
    released = give_back_undialed(session, stuck, why="dialer restarted", now=now)
    if released:
        log.warning("released %d leads claimed but never dialed", released)
    return released


def give_back_undialed(session: Session, stuck: list[Lead], *, why: str, now: datetime) -> int:
    """Leads in DIALING whose claimed attempt was never dialed (`why`): back
    to RETRY, due now; one an agent claimed to dial by hand from a state the
    dialer never dials (rejected, exhausted) goes back to that state, its
    attempt not counted, so a dialer that was away cannot make it a retry."""
    by_hand = lead_lifecycle.claims_by_hand_from_closed(session, [lead.id for lead in stuck])
    released = sum(
        lead_lifecycle.give_back_unplaced(
            session,
            lead.id,
            attempt=lead.attempts,
            claim_id=by_hand[lead.id],
            reason=f"dialed by hand but never placed ({why})",
            now=now,
        )
        for lead in stuck
        if lead.id in by_hand
    )
    return released + lead_lifecycle.return_to_retry(
        session,
        [lead for lead in stuck if lead.id not in by_hand],
        reason=f"claimed but never dialed ({why})",
        now=now,
    )


def close_stale_calls(session: Session, *, now: datetime, older_than: timedelta) -> list[str]:
    """End every call not ended and dialed before now - older_than; settle its
    lead when no agent had it (an agent's disposition settles the others)."""
    cutoff = now - older_than
    stale = list(
        session.scalars(
            select(Call)
            .where(Call.state != CallState.ENDED, Call.dialed_at < cutoff)
            .order_by(Call.dialed_at)
        )
    )
    for call in stale:
        close_call_left_open(session, call, reason=RESTART_REASON, now=now)
    if stale:
        log.warning("closed %d calls left open by a previous dialer run", len(stale))
    return [call.id for call in stale]


def close_call_left_open(session: Session, call: Call, *, reason: str, now: datetime) -> None:
    """End a call no `call.ended` will come for: outcome `failed` with
    `reason`; its lead settled by that when no agent had the call (an
    agent's disposition settles the others) and the attempt is still its
    latest."""
    advance(CALL_TRANSITIONS, call.state, CallState.ENDED, subject=f"call {call.id}")
    session.add(
        CallStateChange(call_id=call.id, from_state=call.state, to_state=CallState.ENDED, at=now)
    )
    call.state = CallState.ENDED
    call.outcome = CallOutcome.FAILED
    call.sip_reason = reason
    call.ended_at = now
    session.flush()
    lead = session.get(Lead, call.lead_id)
    if (
        lead is not None
        and lead.state is LeadState.DIALING
        and lead.attempts == call.attempt
        and call.connected_at is None
    ):
        lead_lifecycle.settle_attempt(
            session, lead_id=lead.id, call_id=call.id, outcome=CallOutcome.FAILED, now=now
        )


def release_agents_held_for(
    session: Session, call_ids: list[str], *, reason: str, now: datetime
) -> list[int]:
    """An agent talking on one of these calls goes to wrap-up (they still
    record what was said); one only reserved for it is ready again."""
    if not call_ids:
        return []
    held = session.scalars(
        select(AgentStatus).where(
            AgentStatus.current_call_id.in_(call_ids),
            AgentStatus.state.in_([AgentState.RESERVED, AgentState.ON_CALL]),
        )
    )
    freed = []
    for status in held:
        target = AgentState.WRAP_UP if status.state is AgentState.ON_CALL else AgentState.READY
        agents.change_state(
            session,
            status.agent_id,
            target,
            reason=reason[:64],
            call_id=status.current_call_id,
            now=now,
        )
        freed.append(status.agent_id)
    return freed


def release_stale_agents(
    session: Session, *, now: datetime, older_than: timedelta, call_ids: list[str]
) -> list[int]:
    """Agents held for a closed call, or reserved for longer than any call lasts."""
    cutoff = now - older_than
    held = list(
        session.scalars(
            select(AgentStatus).where(
                AgentStatus.state.in_([AgentState.RESERVED, AgentState.ON_CALL])
            )
        )
    )
    freed = []
    for status in held:
        if status.current_call_id not in call_ids and status.since >= cutoff:
            continue
        target = AgentState.WRAP_UP if status.state is AgentState.ON_CALL else AgentState.READY
        agents.change_state(
            session,
            status.agent_id,
            target,
            reason=RESTART_REASON,
            call_id=status.current_call_id,
            now=now,
        )
        freed.append(status.agent_id)
    return freed
