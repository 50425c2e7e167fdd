"""The server's clock on the floor: wrap-ups that outlived their limit, and
agents whose session ended (logged out, timed out, deactivated) while they
still held a place in the queue.

Run every tick by the dialer (`dialer.db_port.DatabaseServices.sweep_floor`),
so a closed tab, a lost browser or a deactivated account never leaves a call
without a disposition, a lead in DIALING, or an agent counted as available."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from callcenter.db import utcnow
from callcenter.models import AgentStatus, Call, Campaign, User
from callcenter.services import agents, dispositions
from callcenter.states import AgentState, CallState

log = logging.getLogger(__name__)


@dataclass
class Sweep:
    timed_out_calls: list[str] = field(default_factory=list)
    paused_agents: list[int] = field(default_factory=list)
    logged_out_agents: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.timed_out_calls or self.paused_agents or self.logged_out_agents)


def sweep(session: Session, *, now: datetime | None = None) -> Sweep:
    """Close every overdue wrap-up and take deactivated agents off the floor
    (in one transaction; `DatabaseServices.sweep_floor` gives each agent
    its own, so the sweep never holds many rows at once)."""
    now = now or utcnow()
    done = Sweep()
    for agent_id in agents_to_sweep(session, now=now):
        sweep_agent(session, agent_id, now=now, done=done)
    report(done)
    return done


def agents_to_sweep(session: Session, *, now: datetime) -> list[int]:
    """The agents the sweep may have work for at `now`: a wrap-up past its
    campaign's limit, or an account deactivated while on the floor. Read
    without locks and a little wide; `sweep_agent` decides under its locks.
    (Every agent in wrap-up was a locking transaction a second before: at a
    shift's 50-150 agents in wrap-up, most of the sweep's work for nothing.)"""
    return sorted(set(_wrap_ups_due(session, now)) | set(_inactive_on_floor(session)))


def sweep_agent(session: Session, agent_id: int, *, now: datetime, done: Sweep) -> None:
    _expire(session, agent_id, now=now, done=done)
    if agent_id in _inactive_on_floor(session):
        end_agent_session(session, agent_id, now=now)
        if agents.status_of(session, agent_id).state is AgentState.LOGGED_OUT:
            done.logged_out_agents.append(agent_id)


def report(done: Sweep) -> None:
    if done:
        log.info(
            "floor sweep: %d wrap-ups timed out, %d agents paused, %d logged out",
            len(done.timed_out_calls),
            len(done.paused_agents),
            len(done.logged_out_agents),
        )


# Made once: a new alias for each statement is a new statement to compile.
_AGENTS_CAMPAIGN = aliased(Campaign, name="agents_campaign")
_CALLS_CAMPAIGN = aliased(Campaign, name="calls_campaign")


_WRAP_UPS = (
    select(
        AgentStatus.agent_id,
        AgentStatus.since,
        AgentStatus.campaign_id,
        _AGENTS_CAMPAIGN.wrap_up_limit_seconds,
        Call.ended_at,
        _CALLS_CAMPAIGN.wrap_up_limit_seconds,
    )
    .outerjoin(_AGENTS_CAMPAIGN, _AGENTS_CAMPAIGN.id == AgentStatus.campaign_id)
    .outerjoin(Call, Call.id == AgentStatus.current_call_id)
    .outerjoin(_CALLS_CAMPAIGN, _CALLS_CAMPAIGN.id == Call.campaign_id)
    .where(AgentStatus.state == AgentState.WRAP_UP)
)
_INACTIVE_ON_FLOOR = (
    select(AgentStatus.agent_id)
    .join(User, User.id == AgentStatus.agent_id)
    .where(User.is_active.is_(False), AgentStatus.state != AgentState.LOGGED_OUT)
)
"""The sweep's reads (every tick in the dialer), built once."""


def _wrap_ups_due(session: Session, now: datetime) -> list[int]:
    """Agents in wrap-up whose limit has passed by one of the clocks `_expire`
    may go by: from the call's end (a disposition owed, the call's campaign's
    limit) or from the state's start (the agent's campaign's limit)."""
    return [
        agent_id
        for agent_id, since, campaign_id, limit, ended_at, call_limit in session.execute(_WRAP_UPS)
        if campaign_id is None
        or (now - since).total_seconds() >= (limit or 0)
        or (ended_at is not None and (now - ended_at).total_seconds() >= (call_limit or 0))
    ]


def _expire(session: Session, agent_id: int, *, now: datetime, done: Sweep) -> None:
    # The call's row first, then the agent's: the order every other writer
    # (the call events, the disposition) takes them in, or PostgreSQL
    # finds a deadlock between the sweep and the consumer.
    seen = session.scalar(
        select(AgentStatus.current_call_id).where(AgentStatus.agent_id == agent_id)
    )
    call = session.get(Call, seen, with_for_update=True) if seen is not None else None
    status = agents.status_of(session, agent_id, lock=True)
    if status.state is not AgentState.WRAP_UP or status.current_call_id != seen:
        return
    user = session.get(User, status.agent_id)
    gone = user is None or not user.is_active
    if call is not None and call.wrap_up_ended_at is None and call.state is CallState.ENDED:
        if gone or dispositions.wrap_up_overdue(session, call, now=now):
            dispositions.time_out_wrap_up(session, call, now=now)
            done.timed_out_calls.append(call.id)
        return
    # The disposition is in; the agent was to press Ready (no auto-ready).
    if not gone and not _idle_wrap_up_overdue(session, status, now=now):
        return
    reason = None if gone else agents.WRAP_UP_TIMEOUT
    target = AgentState.LOGGED_OUT if gone or status.log_out_after_call else AgentState.PAUSED
    agents.change_state(session, status.agent_id, target, reason=reason, now=now)
    (done.logged_out_agents if target is AgentState.LOGGED_OUT else done.paused_agents).append(
        status.agent_id
    )


def _idle_wrap_up_overdue(session: Session, status: AgentStatus, *, now: datetime) -> bool:
    if status.campaign_id is None:
        return True
    limit = session.scalar(
        select(Campaign.wrap_up_limit_seconds).where(Campaign.id == status.campaign_id)
    )
    return (now - status.since).total_seconds() >= (limit or 0)


def _inactive_on_floor(session: Session) -> list[int]:
    return list(session.scalars(_INACTIVE_ON_FLOOR))


def end_agent_session(
    session: Session, agent_id: int, *, now: datetime | None = None
) -> AgentStatus:
    """The agent's session is over (logout, idle timeout, deactivation, a
    supervisor's log-out): they leave the queue at once; a wrap-up that owes
    a disposition is closed by the server's default first; a call in
    progress goes on, and they are logged out when its wrap-up ends."""
    now = now or utcnow()
    status = agents.status_of(session, agent_id, lock=True)
    if status.state is AgentState.LOGGED_OUT:
        return status
    if status.state is AgentState.ON_CALL or agents.call_coming(status):
        status.log_out_after_call = True
        session.flush()
        agents.announce(session, status, reason=None)
        return status
    if agents.owes_disposition(session, status):
        assert status.current_call_id is not None
        call = session.get(Call, status.current_call_id, with_for_update=True)
        assert call is not None
        status.log_out_after_call = True
        dispositions.time_out_wrap_up(session, call, now=now)
        return agents.status_of(session, agent_id)
    return agents.change_state(
        session, agent_id, AgentState.LOGGED_OUT, reason="session ended", now=now
    )
