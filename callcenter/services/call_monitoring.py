"""Supervisors on live calls: listen, whisper and barge.

A supervisor (the calls of their teams' agents; managers and admins any
call) picks a connected call on the live floor, a mode and their phone (the
browser phone, or a SIP address as an agent's desk phone). A session row is
written (CALLING) and ``monitor.requested`` goes to the dialer holding the
call, which calls that phone and, once it answers, joins it to the call's
mix (``monitor.started``: ACTIVE). The mode can change while the session is
on, on the same phone leg (``monitor.mode_changed``). The session ends when
the supervisor stops (``monitor.stop_requested``), their phone hangs up or
fails, or the call ends (``monitor.ended`` from the dialer; ``call.ended``
closes whatever is left too). One open session per supervisor: they have
one phone.

The agent's screen is told (``monitoring`` in their room) when a supervisor
listens, whispers or has joined, and when they are gone; a campaign may hide
"listen" from its agents (``monitor_listen_hidden``): whisper and barge
always show, since the agent hears them. The floor's supervisors see each
session (``floor_monitor``). Every start, mode change and end is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.bus import EventBus
from callcenter.db import utcnow
from callcenter.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from callcenter.events import (
    Event,
    MonitorEnded,
    MonitorModeChanged,
    MonitorRequested,
    MonitorStarted,
    MonitorStopRequested,
)
from callcenter.models import Call, Campaign, MonitorSession, User
from callcenter.realtime import emit_after_commit
from callcenter.realtime.rooms import agent_room, campaign_supervisors_room
from callcenter.services import applied_events, audit
from callcenter.services.agents import phone_address
from callcenter.services.bus_outbox import publish_after_commit
from callcenter.services.recordings import may_hear
from callcenter.states import (
    MONITOR_TRANSITIONS,
    CallState,
    MonitorMode,
    MonitorState,
    Role,
    advance,
)

HANDLER = "call_monitoring"
AGENT_EVENT = "monitoring"
FLOOR_EVENT = "floor_monitor"
OPEN_STATES = (MonitorState.CALLING, MonitorState.ACTIVE)
STAFF = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)


def parse_mode(value: Any) -> MonitorMode:
    try:
        return MonitorMode(str(value))
    except ValueError:
        raise InvalidInput(
            N_("choose listen, whisper or barge"), details={"field": "mode"}
        ) from None


def start(
    session: Session,
    bus: EventBus | None,
    user: User,
    call_id: Any,
    mode: Any,
    phone: Any = None,
    *,
    browser_phone: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    now: datetime | None = None,
) -> MonitorSession:
    """Start hearing a connected call of the supervisor's floor on their phone.

    ``phone`` is "browser" (``browser_phone`` is then the URI the dialer
    calls), a SIP address or extension, or empty for the one they used last.
    """
    _require_staff(user)
    wanted = parse_mode(mode)
    call = _monitorable_call(session, user, str(call_id or ""))
    if _open_session_of(session, user.id) is not None:
        raise Conflict(N_("You are already on a call; stop that first."))
    address = phone_address(phone or user.sip_uri, browser_phone, allowed_hosts)
    user.sip_uri = address
    at = now or utcnow()
    monitor = MonitorSession(
        call_id=call.id,
        supervisor_id=user.id,
        agent_id=call.agent_id,
        mode=wanted,
        state=MonitorState.CALLING,
        phone=address,
        started_at=at,
    )
    session.add(monitor)
    session.flush()
    audit.record(
        session,
        "monitor.started",
        actor=user,
        target_type="call",
        target_id=call.id,
        details={"session_id": monitor.id, "mode": str(wanted), "agent_id": call.agent_id},
    )
    publish_after_commit(
        session,
        bus,
        MonitorRequested(
            session_id=monitor.id,
            call_id=call.id,
            supervisor_id=user.id,
            phone=address,
            mode=str(wanted),
        ),
    )
    _announce(session, monitor)
    return monitor


def change_mode(
    session: Session, bus: EventBus | None, user: User, session_id: Any, mode: Any
) -> MonitorSession:
    """Listen, whisper or barge from now on, on the same phone leg."""
    _require_staff(user)
    wanted = parse_mode(mode)
    monitor = _own_open_session(session, user, session_id)
    if monitor.mode is wanted:
        return monitor
    before = monitor.mode
    monitor.mode = wanted
    if monitor.state is MonitorState.ACTIVE:
        advance(MONITOR_TRANSITIONS, monitor.state, MonitorState.ACTIVE, subject="monitor session")
    audit.record(
        session,
        "monitor.mode_changed",
        actor=user,
        target_type="call",
        target_id=monitor.call_id,
        details={"session_id": monitor.id, "from": str(before), "to": str(wanted)},
    )
    publish_after_commit(
        session,
        bus,
        MonitorModeChanged(session_id=monitor.id, call_id=monitor.call_id, mode=str(wanted)),
    )
    _announce(session, monitor)
    return monitor


def stop(
    session: Session,
    bus: EventBus | None,
    user: User,
    session_id: Any,
    *,
    now: datetime | None = None,
) -> MonitorSession:
    """The supervisor leaves the call; the dialer hangs up their leg."""
    _require_staff(user)
    monitor = _own_open_session(session, user, session_id)
    _end(session, monitor, "supervisor", now or utcnow(), actor=user)
    publish_after_commit(
        session, bus, MonitorStopRequested(session_id=monitor.id, call_id=monitor.call_id)
    )
    return monitor


def apply_event(session: Session, event: Event) -> bool:
    """monitor.started / monitor.ended from the dialer, once; False when seen before."""
    if not applied_events.first_application(session, event.event_id, HANDLER):
        return False
    if isinstance(event, MonitorStarted):
        monitor = session.get(MonitorSession, event.session_id)
        if monitor is not None and monitor.state is MonitorState.CALLING:
            monitor.state = advance(
                MONITOR_TRANSITIONS, monitor.state, MonitorState.ACTIVE, subject="monitor session"
            )
            monitor.answered_at = event.occurred_at
            _announce(session, monitor)
    elif isinstance(event, MonitorEnded):
        monitor = session.get(MonitorSession, event.session_id)
        if monitor is not None and monitor.state in OPEN_STATES:
            _end(session, monitor, event.reason, event.occurred_at, actor=None)
    session.flush()
    return True


def call_ended(session: Session, call_id: str, at: datetime) -> None:
    """The call is over: whatever monitoring is still open on it ends with it."""
    query = select(MonitorSession).where(
        MonitorSession.call_id == call_id, MonitorSession.state.in_(OPEN_STATES)
    )
    for monitor in session.scalars(query):
        _end(session, monitor, "call_ended", at, actor=None)


def open_session_of(session: Session, user: User) -> dict[str, Any] | None:
    """The supervisor's open session, for a floor screen that was reloaded."""
    monitor = _open_session_of(session, user.id)
    return None if monitor is None else payload(session, monitor)


def agent_view(session: Session, agent_id: int, call_id: str | None) -> dict[str, Any] | None:
    """What the agent's screen shows for their call now (None: nothing)."""
    if call_id is None:
        return None
    query = (
        select(MonitorSession)
        .where(MonitorSession.call_id == call_id, MonitorSession.state.in_(OPEN_STATES))
        .order_by(MonitorSession.id)
    )
    shown = [m for m in session.scalars(query) if _agent_sees(session, m)]
    if not shown:
        return None
    loudest = max(shown, key=lambda m: list(MonitorMode).index(m.mode))
    return {"call_id": call_id, "mode": str(loudest.mode), "supervisor": _name_of(session, loudest)}


def payload(session: Session, monitor: MonitorSession) -> dict[str, Any]:
    return {
        "session_id": monitor.id,
        "call_id": monitor.call_id,
        "agent_id": monitor.agent_id,
        "supervisor_id": monitor.supervisor_id,
        "supervisor": _name_of(session, monitor),
        "mode": str(monitor.mode),
        "state": str(monitor.state),
        "end_reason": monitor.end_reason,
    }


# --- internals ---------------------------------------------------------------------------------


def _require_staff(user: User) -> None:
    if user.role not in STAFF:
        raise Forbidden(N_("your role may not do this"), details={"role": str(user.role)})


def _monitorable_call(session: Session, user: User, call_id: str) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(N_("No such call."), details={"call_id": call_id})
    if not may_hear(session, user, call):
        raise Forbidden(N_("This call is not on your floor."), details={"call_id": call_id})
    if call.state is not CallState.CONNECTED or call.agent_id is None:
        raise Conflict(N_("Only a call in progress can be listened to."))
    return call


def _open_session_of(session: Session, supervisor_id: int) -> MonitorSession | None:
    return session.scalar(
        select(MonitorSession).where(
            MonitorSession.supervisor_id == supervisor_id,
            MonitorSession.state.in_(OPEN_STATES),
        )
    )


def _own_open_session(session: Session, user: User, session_id: Any) -> MonitorSession:
    try:
        wanted = int(session_id)
    except (TypeError, ValueError):
        raise InvalidInput(N_("No such monitoring."), details={"field": "session_id"}) from None
    monitor = session.get(MonitorSession, wanted)
    if monitor is None or monitor.supervisor_id != user.id:
        raise NotFound(N_("No such monitoring."), details={"session_id": wanted})
    if monitor.state not in OPEN_STATES:
        raise Conflict(N_("This monitoring has ended."), details={"session_id": wanted})
    return monitor


def _end(
    session: Session, monitor: MonitorSession, reason: str, at: datetime, *, actor: User | None
) -> None:
    monitor.state = advance(
        MONITOR_TRANSITIONS, monitor.state, MonitorState.ENDED, subject="monitor session"
    )
    monitor.ended_at = at
    monitor.end_reason = reason[:64]
    audit.record(
        session,
        "monitor.ended",
        actor=actor,
        target_type="call",
        target_id=monitor.call_id,
        details={"session_id": monitor.id, "mode": str(monitor.mode), "reason": reason},
    )
    _announce(session, monitor)


def _agent_sees(session: Session, monitor: MonitorSession) -> bool:
    if monitor.mode is not MonitorMode.LISTEN:
        return True
    call = session.get(Call, monitor.call_id)
    campaign = session.get(Campaign, call.campaign_id) if call is not None else None
    return campaign is None or not campaign.monitor_listen_hidden


def _name_of(session: Session, monitor: MonitorSession) -> str:
    supervisor = session.get(User, monitor.supervisor_id)
    return "" if supervisor is None else supervisor.full_name or supervisor.username


def _announce(session: Session, monitor: MonitorSession) -> None:
    session.flush()
    call = session.get(Call, monitor.call_id)
    if call is None:
        return
    emit_after_commit(
        session,
        FLOOR_EVENT,
        payload(session, monitor),
        room=campaign_supervisors_room(call.campaign_id),
    )
    if monitor.agent_id is not None:
        emit_after_commit(
            session,
            AGENT_EVENT,
            {"call_id": call.id, "view": agent_view(session, monitor.agent_id, call.id)},
            room=agent_room(monitor.agent_id),
        )
