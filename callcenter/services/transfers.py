"""Agents handing a live call on: blind (straight to another agent, a team's
next ready agent, or an outside number that passes the do-not-call and
calling-hours checks) or warm (the agent consults the target on their own
phone while the customer hears hold music, then hands over, joins all three
or goes back to the customer).

The agent asks here (`start`, `act`); what is allowed follows the transfer's
state machine (`states.TRANSFER_TRANSITIONS`). The dialer moves the media
(`transfer.requested`, `transfer.action_requested` on the bus) and says what
it did (`transfer.progressed`), which `apply_progress` turns into the agents'
states: the target agent's screen pops with the same call (its lead, script
position, history and the opener's notes), the opener goes to wrap-up.
The call row keeps both agents: `opened_by_id` the opener, `agent_id` the
closer (the reports' openers vs closers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.bus import EventBus
from callcenter.db import utcnow
from callcenter.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from callcenter.events import TransferActionRequested, TransferProgressed, TransferRequested
from callcenter.models import (
    AgentStatus,
    Call,
    CallTransfer,
    Campaign,
    Note,
    Team,
    User,
)
from callcenter.realtime import emit_after_commit
from callcenter.realtime.rooms import agent_room
from callcenter.services import agents, audit, manual_dial, workstation
from callcenter.services.bus_outbox import publish_after_commit
from callcenter.states import (
    OPEN_TRANSFER_STATES,
    TRANSFER_TRANSITIONS,
    AgentState,
    CallState,
    PhoneLegState,
    Role,
    TransferKind,
    TransferState,
    TransferTarget,
    advance,
)

TRANSFER_CHANGED = "transfer_changed"
ACTIONS = {
    "hand_over": TransferState.COMPLETED,
    "join": TransferState.JOINED,
    "cancel": TransferState.CANCELLED,
}
TRANSFERRED = "transferred"


def live_call(session: Session, agent_id: int, call_id: Any) -> Call:
    """The agent's own call, connected to them now: the only one they may transfer."""
    call = workstation.own_call(session, agent_id, call_id)
    session.refresh(call, with_for_update=True)
    status = agents.status_of(session, agent_id, lock=True)
    live = (
        call.state is CallState.CONNECTED
        and status.state is AgentState.ON_CALL
        and status.current_call_id == call.id
    )
    if not live:
        raise Conflict(N_("Only a call you are talking on can be transferred."))
    return call


def start(
    session: Session,
    agent_id: int,
    call_id: Any,
    *,
    kind: Any,
    target: Any,
    to_agent_id: Any = None,
    to_team_id: Any = None,
    to_number: Any = None,
    bus: EventBus | None,
    now: datetime | None = None,
) -> CallTransfer:
    now = now or utcnow()
    transfer_kind = _choice(TransferKind, kind, "kind")
    target_kind = _choice(TransferTarget, target, "target")
    call = live_call(session, agent_id, call_id)
    if open_transfer(session, call.id) is not None:
        raise Conflict(N_("This call is being transferred already."))
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    agent = agents.agent_user(session, agent_id)
    transfer = CallTransfer(
        call_id=call.id,
        kind=transfer_kind,
        target=target_kind,
        state=TransferState.REQUESTED,
        from_agent_id=agent_id,
        requested_at=now,
    )
    if target_kind is TransferTarget.NUMBER:
        if transfer_kind is TransferKind.WARM:
            raise InvalidInput(N_("An outside number can only be given the call blind."))
        phone = manual_dial.normalized(to_number)
        locale = agent.locale if agent.locale in ("fa", "en") else "fa"
        manual_dial.refuse_unless_callable(
            session, campaign, phone, call.customer.timezone or campaign.timezone, locale, now=now
        )
        transfer.to_number = phone
    else:
        if target_kind is TransferTarget.TEAM:
            team = session.get(Team, _int(to_team_id, "to_team_id"))
            if team is None:
                raise NotFound(N_("No such team."), details={"to_team_id": to_team_id})
            transfer.to_team_id = team.id
            target_agent = _next_ready_of_team(session, team.id, call.campaign_id, agent_id)
        else:
            target_agent = _ready_agent(session, _int(to_agent_id, "to_agent_id"), call, agent_id)
        agents.change_state(
            session, target_agent, AgentState.RESERVED, reason=TRANSFERRED, call_id=call.id, now=now
        )
        transfer.to_agent_id = target_agent
    session.add(transfer)
    session.flush()
    audit.record(
        session,
        "transfer.requested",
        actor=agent,
        target_type="call",
        target_id=call.id,
        details={
            "transfer_id": transfer.id,
            "kind": str(transfer.kind),
            "target": str(transfer.target),
            "to_agent_id": transfer.to_agent_id,
            "to_team_id": transfer.to_team_id,
            "outside_number": transfer.to_number is not None,
        },
    )
    publish_after_commit(
        session,
        bus,
        TransferRequested(
            transfer_id=transfer.id,
            call_id=call.id,
            kind=str(transfer.kind),
            from_agent_id=agent_id,
            to_agent_id=transfer.to_agent_id,
            to_number=transfer.to_number,
            caller_id=campaign.caller_id,
        ),
    )
    _announce(session, transfer)
    return transfer


def act(
    session: Session, agent_id: int, transfer_id: Any, action: Any, *, bus: EventBus | None
) -> CallTransfer:
    """Hand over, join all three or cancel a warm transfer the agent started."""
    if action not in ACTIONS:
        raise InvalidInput(N_("Choose hand over, join or cancel."), details={"field": "action"})
    transfer = _own_open(session, agent_id, transfer_id)
    if transfer.kind is not TransferKind.WARM:
        raise Conflict(N_("Only a warm transfer can be handed over, joined or cancelled."))
    wanted = ACTIONS[action]
    if transfer.state is TransferState.REQUESTED:
        raise Conflict(N_("The other agent is not on the line yet."))
    advance(TRANSFER_TRANSITIONS, transfer.state, wanted, subject=f"transfer {transfer.id}")
    audit.record(
        session,
        f"transfer.{action}",
        actor=agents.agent_user(session, agent_id),
        target_type="call",
        target_id=transfer.call_id,
        details={"transfer_id": transfer.id, "state": str(transfer.state)},
    )
    publish_after_commit(
        session,
        bus,
        TransferActionRequested(transfer_id=transfer.id, call_id=transfer.call_id, action=action),
    )
    return transfer


def apply_progress(session: Session, event: TransferProgressed) -> CallTransfer | None:
    """What the dialer did with the call's media, applied to the transfer, the
    call and both agents (once: the bus handler is idempotent on the event)."""
    transfer = session.get(CallTransfer, event.transfer_id, with_for_update=True)
    if transfer is None or transfer.state not in OPEN_TRANSFER_STATES:
        return transfer
    state = TransferState(event.state)
    if state is transfer.state:
        return transfer
    advance(TRANSFER_TRANSITIONS, transfer.state, state, subject=f"transfer {transfer.id}")
    transfer.state = state
    at = event.occurred_at
    if state is TransferState.COMPLETED:
        _hand_over(session, transfer, at=at)
    elif state in (TransferState.CANCELLED, TransferState.FAILED):
        transfer.reason = (event.reason or "")[:120] or None
        _release_target(session, transfer, at=at)
    if state not in OPEN_TRANSFER_STATES:
        transfer.ended_at = at
    audit.record(
        session,
        f"transfer.{state}",
        actor=None,
        target_type="call",
        target_id=transfer.call_id,
        details={"transfer_id": transfer.id, "reason": transfer.reason},
    )
    _announce(session, transfer)
    return transfer


def open_transfer(session: Session, call_id: str) -> CallTransfer | None:
    return session.scalar(
        select(CallTransfer).where(
            CallTransfer.call_id == call_id, CallTransfer.state.in_(OPEN_TRANSFER_STATES)
        )
    )


def targets(session: Session, agent_id: int) -> dict[str, Any]:
    """Who the agent may transfer their call to: the ready agents of their
    campaign (phone up) and the campaign's teams."""
    status = agents.status_of(session, agent_id)
    if status.campaign_id is None:
        return {"agents": [], "teams": []}
    rows = session.execute(
        select(User.id, User.full_name)
        .join(AgentStatus, AgentStatus.agent_id == User.id)
        .where(
            AgentStatus.campaign_id == status.campaign_id,
            AgentStatus.state == AgentState.READY,
            AgentStatus.phone_leg == PhoneLegState.UP,
            User.id != agent_id,
            User.is_active.is_(True),
        )
        .order_by(User.full_name)
    )
    campaign = session.get(Campaign, status.campaign_id)
    teams = sorted(campaign.teams, key=lambda team: team.name) if campaign else []
    return {
        "agents": [{"id": user_id, "name": name} for user_id, name in rows],
        "teams": [{"id": team.id, "name": team.name} for team in teams],
    }


def payload(session: Session, transfer: CallTransfer) -> dict[str, Any]:
    names = {
        user.id: user.full_name
        for user in session.scalars(
            select(User).where(User.id.in_([transfer.from_agent_id, transfer.to_agent_id or 0]))
        )
    }
    return {
        "id": transfer.id,
        "call_id": transfer.call_id,
        "kind": str(transfer.kind),
        "target": str(transfer.target),
        "state": str(transfer.state),
        "from_agent": names.get(transfer.from_agent_id, ""),
        "to_agent": names.get(transfer.to_agent_id or 0, ""),
        "to_number": transfer.to_number,
        "reason": transfer.reason,
    }


def _hand_over(session: Session, transfer: CallTransfer, *, at: datetime) -> None:
    call = session.get(Call, transfer.call_id, with_for_update=True)
    assert call is not None
    opener = transfer.from_agent_id
    if call.opened_by_id is None:
        call.opened_by_id = opener
    status = agents.status_of(session, opener, lock=True)
    if status.state is AgentState.ON_CALL and status.current_call_id == call.id:
        if transfer.to_agent_id is None:
            # An outside number: nobody else will wrap the call up.
            agents.change_state(session, opener, AgentState.WRAP_UP, call_id=call.id, now=at)
        else:
            agents.change_state(session, opener, AgentState.WRAP_UP, reason=TRANSFERRED, now=at)
            status.current_call_id = None  # the closer owes the disposition, not the opener
    closer = transfer.to_agent_id
    if closer is None or call.state is CallState.ENDED:
        return
    call.agent_id = closer
    closer_status = agents.status_of(session, closer, lock=True)
    if closer_status.state is AgentState.RESERVED:
        agents.change_state(session, closer, AgentState.ON_CALL, call_id=call.id, now=at)
    _pass_notes(session, call, opener, closer)
    session.flush()
    emit_after_commit(
        session,
        workstation.SCREEN_POP,
        workstation.screen_pop(session, call, now=at),
        room=agent_room(closer),
    )


def _pass_notes(session: Session, call: Call, opener: int, closer: int) -> None:
    """The opener's notes on the call open on the closer's screen, theirs to go on with."""
    note = workstation.call_note(session, call.id, opener)
    if note is None or workstation.call_note(session, call.id, closer) is not None:
        return
    session.add(
        Note(customer_id=call.customer_id, call_id=call.id, author_id=closer, text=note.text)
    )


def _release_target(session: Session, transfer: CallTransfer, *, at: datetime) -> None:
    if transfer.to_agent_id is None:
        return
    status = agents.status_of(session, transfer.to_agent_id, lock=True)
    if status.state is AgentState.RESERVED and status.current_call_id == transfer.call_id:
        agents.release_reserved(session, transfer.to_agent_id, call_id=transfer.call_id, now=at)


def _announce(session: Session, transfer: CallTransfer) -> None:
    data = payload(session, transfer)
    for agent_id in {transfer.from_agent_id, transfer.to_agent_id}:
        if agent_id is not None:
            emit_after_commit(session, TRANSFER_CHANGED, data, room=agent_room(agent_id))


def _own_open(session: Session, agent_id: int, transfer_id: Any) -> CallTransfer:
    transfer = session.get(CallTransfer, _int(transfer_id, "transfer_id"), with_for_update=True)
    if transfer is None:
        raise NotFound(N_("No such transfer."), details={"transfer_id": transfer_id})
    if transfer.from_agent_id != agent_id:
        raise Forbidden(N_("This transfer is not yours."), details={"transfer_id": transfer.id})
    if transfer.state not in OPEN_TRANSFER_STATES:
        raise Conflict(N_("This transfer is over."), details={"state": str(transfer.state)})
    return transfer


def _ready_agent(session: Session, wanted: int, call: Call, agent_id: int) -> int:
    if wanted == agent_id:
        raise InvalidInput(N_("Choose another agent."), details={"field": "to_agent_id"})
    user = session.get(User, wanted)
    status = session.get(AgentStatus, wanted)
    ready = (
        user is not None
        and user.is_active
        and user.role in (Role.AGENT, Role.SUPERVISOR)
        and status is not None
        and status.state is AgentState.READY
        and status.campaign_id == call.campaign_id
        and status.phone_leg is PhoneLegState.UP
    )
    if not ready:
        raise Conflict(
            N_("That agent is not ready on this campaign now."), details={"to_agent_id": wanted}
        )
    return wanted


def _next_ready_of_team(session: Session, team_id: int, campaign_id: int, agent_id: int) -> int:
    found = session.scalar(
        select(AgentStatus.agent_id)
        .join(User, User.id == AgentStatus.agent_id)
        .where(
            User.team_id == team_id,
            User.is_active.is_(True),
            User.id != agent_id,
            AgentStatus.campaign_id == campaign_id,
            AgentStatus.state == AgentState.READY,
            AgentStatus.phone_leg == PhoneLegState.UP,
        )
        .order_by(AgentStatus.since, AgentStatus.agent_id)
        .limit(1)
    )
    if found is None:
        raise Conflict(N_("Nobody in that team is ready on this campaign now."))
    return found


def _choice(enum: Any, value: Any, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise InvalidInput(
            N_("Choose how to transfer the call."), details={"field": field}
        ) from None


def _int(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(N_("Choose who gets the call."), details={"field": field}) from None
