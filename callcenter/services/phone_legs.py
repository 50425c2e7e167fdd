"""The agent's nailed-up phone leg, as the dialer that holds it reports it.

A ready agent's phone is called once and kept open for the session; only
then may they be given calls. The dialer writes each step here, naming the
leg by its id, so a report about an older leg (one a restarted dialer or a
changed phone replaced) changes nothing: calling -> up, or lost (refused,
busy, no answer, dropped) with the SIP reason, or down when the dialer hung
it up itself. Every step tells the agent's screen and the floor.

A lost leg is audited with its SIP reason. A ready agent (or one reserved
for a preview lead not dialed yet) goes at once to the `phone_lost` pause;
one with a call goes on with it (the dialer ends a connected call), and the
end of the call or of the wrap-up lands them in that pause instead of ready
(`agents.change_state`). Pressing Ready again asks for a new call to the
phone (`agents.go_ready`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from callcenter.models import AgentStatus
from callcenter.services import agents, audit
from callcenter.states import PHONE_LEG_TRANSITIONS, AgentState, PhoneLegState, advance

LOST = "agent.phone_lost"


def calling(session: Session, agent_id: int, leg_id: str) -> bool:
    """The dialer is about to call the agent's phone as leg `leg_id`; False
    (and the phone is not called) when the agent is not ready any more."""
    status = agents.status_of(session, agent_id, lock=True)
    if status.state is not AgentState.READY:
        return False
    _move(status, PhoneLegState.CALLING)
    status.phone_leg_id = leg_id
    status.phone_leg_detail = None
    _announce(session, status)
    return True


def answered(session: Session, agent_id: int, leg_id: str) -> None:
    status = agents.status_of(session, agent_id, lock=True)
    if status.phone_leg_id != leg_id or status.phone_leg is not PhoneLegState.CALLING:
        return
    _move(status, PhoneLegState.UP)
    _announce(session, status)


def hung_up(session: Session, agent_id: int, leg_id: str) -> None:
    """The dialer hung the leg up itself: the agent left or changed phone, or
    the dialer stops (a ready agent's phone is called again by the next one)."""
    status = agents.status_of(session, agent_id, lock=True)
    if status.phone_leg_id != leg_id or status.phone_leg not in (
        PhoneLegState.CALLING,
        PhoneLegState.UP,
    ):
        return
    _move(status, PhoneLegState.DOWN)
    status.phone_leg_id = None
    _announce(session, status)


def lost(
    session: Session,
    agent_id: int,
    leg_id: str | None,
    *,
    reason: str,
    now: datetime | None = None,
) -> AgentStatus:
    """Leg `leg_id` failed to come up or dropped; None: the dialer found no
    leg up for the agent when it was to connect a call to them."""
    status = agents.status_of(session, agent_id, lock=True)
    if leg_id is not None and status.phone_leg_id != leg_id:
        return status  # an older leg, replaced since
    if status.state is AgentState.LOGGED_OUT:
        return status
    if status.phone_leg is PhoneLegState.LOST:
        if leg_id is not None:  # the leg's own report says more than "none at connect"
            status.phone_leg_detail = reason[:120]
            _announce(session, status)
        return status
    _move(status, PhoneLegState.LOST)
    status.phone_leg_detail = reason[:120]
    audit.record(
        session,
        LOST,
        actor=None,
        target_type="user",
        target_id=agent_id,
        details={"leg_id": leg_id, "reason": reason, "state": str(status.state)},
    )
    waiting_for_a_call = status.state is AgentState.RESERVED and status.current_call_id is None
    if status.state is AgentState.READY or waiting_for_a_call:
        return agents.change_state(
            session, agent_id, AgentState.PAUSED, reason=agents.PHONE_LOST, now=now
        )
    _announce(session, status)
    return status


def _move(status: AgentStatus, to_state: PhoneLegState) -> None:
    subject = f"phone leg of agent {status.agent_id}"
    status.phone_leg = advance(PHONE_LEG_TRANSITIONS, status.phone_leg, to_state, subject=subject)


def _announce(session: Session, status: AgentStatus) -> None:
    session.flush()
    agents.announce(session, status, reason=None)
