"""Lifecycles of agents, calls and leads as explicit transition tables.

Services move a row only through `advance`; an illegal move raises
`IllegalTransition` (logged, and a 409 at the edge)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from callcenter.errors import N_, DomainError

log = logging.getLogger(__name__)


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMIN = "admin"


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"  # picked for a call (or shown a preview lead), not yet talking
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class PhoneLegState(StrEnum):
    """The agent's nailed-up phone leg, as the dialer that holds it reports it."""

    DOWN = "down"  # no leg: not called yet, or hung up by the dialer
    CALLING = "calling"  # the dialer is calling the agent's phone
    UP = "up"  # answered and held open: customers can be bridged into it
    LOST = "lost"  # refused, not answered, or dropped: the agent is paused for it


class CallState(StrEnum):
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"  # a person answered; waiting for an agent
    CONNECTED = "connected"
    ENDED = "ended"


class CallDirection(StrEnum):
    OUTBOUND = "outbound"  # the dialer called the customer
    INBOUND = "inbound"  # the customer rang a campaign's number back


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    DECLINED = "declined"
    INVALID_NUMBER = "invalid_number"
    FAILED = "failed"
    MACHINE = "machine"
    ABANDONED = "abandoned"
    CANCELLED = "cancelled"


class AmdResult(StrEnum):
    """What answering-machine detection said about a call."""

    HUMAN = "human"
    MACHINE = "machine"
    NOT_SURE = "not_sure"


class AmdAction(StrEnum):
    """What the dialer did after the verdict."""

    HUNG_UP = "hung_up"
    MESSAGE_PLAYED = "message_played"
    PASSED_TO_AGENT = "passed_to_agent"


class DispositionCategory(StrEnum):
    """What a disposition does to the lead (`lead_lifecycle.settle_attempt`)."""

    FINAL = "final"  # done with this lead: rejected (invalid for wrong_number)
    RETRY = "retry"  # dialed again after the code's minutes (or the campaign's delay)
    CALLBACK = "callback"  # the agent books a time
    DNC = "dnc"  # the number goes on the do-not-call list
    SALE = "sale"
    APPOINTMENT = "appointment"  # needs the meeting booked on the call


class LeadState(StrEnum):
    NEW = "new"
    DIALING = "dialing"  # an attempt is in progress: claimed, ringing, or with an agent
    RETRY = "retry"
    CALLBACK = "callback"
    APPOINTMENT = "appointment"
    SALE = "sale"
    REJECTED = "rejected"
    DNC = "dnc"
    INVALID = "invalid"
    EXHAUSTED = "exhausted"
    ARCHIVED = "archived"


class TransferKind(StrEnum):
    BLIND = "blind"  # the customer goes straight to the target
    WARM = "warm"  # the agent consults the target first, the customer on hold


class TransferTarget(StrEnum):
    AGENT = "agent"
    TEAM = "team"  # the team's next ready agent
    NUMBER = "number"  # an outside number (DNC and calling windows apply)


class TransferState(StrEnum):
    REQUESTED = "requested"  # asked for; the dialer is reaching the target
    CONSULTING = "consulting"  # warm: the agent talks to the target, the customer on hold
    JOINED = "joined"  # warm: customer, agent and target on one call
    COMPLETED = "completed"  # the target has the customer; the first agent wraps up
    CANCELLED = "cancelled"  # the agent went back to the customer
    FAILED = "failed"  # the target could not be reached: the customer stays with the agent


class AppointmentStatus(StrEnum):
    """A booked meeting, as the salesperson who holds it records it."""

    BOOKED = "booked"
    HELD = "held"
    NO_SHOW = "no_show"
    RESCHEDULED = "rescheduled"  # moved to another time: a new meeting follows this one
    CANCELLED = "cancelled"
    SOLD = "sold"  # held, and the customer bought
    NOT_SOLD = "not_sold"  # held, and the customer did not buy


class ImportState(StrEnum):
    """A lead file imported in the background, chunk by chunk."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class MonitorMode(StrEnum):
    """How a supervisor is on an agent's call (the dialer's mix has the same names)."""

    LISTEN = "listen"  # hears both sides; nobody hears the supervisor
    WHISPER = "whisper"  # and the agent (alone) hears the supervisor
    BARGE = "barge"  # all three hear one another


class MonitorState(StrEnum):
    """A supervisor's monitoring of one call."""

    CALLING = "calling"  # the dialer is calling the supervisor's phone
    ACTIVE = "active"  # the phone answered and hears the call
    ENDED = "ended"


A = AgentState
AGENT_TRANSITIONS: Mapping[AgentState, frozenset[AgentState]] = {
    A.LOGGED_OUT: frozenset({A.READY, A.PAUSED}),
    A.READY: frozenset({A.RESERVED, A.PAUSED, A.LOGGED_OUT}),
    A.RESERVED: frozenset({A.ON_CALL, A.READY, A.PAUSED, A.LOGGED_OUT}),
    A.ON_CALL: frozenset({A.WRAP_UP, A.LOGGED_OUT}),
    A.WRAP_UP: frozenset({A.READY, A.PAUSED, A.LOGGED_OUT}),
    # PAUSED -> ON_CALL: the dialer had bridged a customer into the agent's
    # phone before the pause reached it; the talk is a fact, the pause follows it.
    # PAUSED -> RESERVED: a paused agent dials a number by hand (the pause
    # is kept for after that call).
    A.PAUSED: frozenset({A.READY, A.LOGGED_OUT, A.ON_CALL, A.RESERVED}),
}

MANUAL_DIAL_FROM = frozenset({A.READY, A.PAUSED})
"""Where an agent may dial a number by hand: not on a call, not in a wrap-up,
not holding a preview lead, not logged out."""


def after_reservation(pause_after_call: str | None) -> tuple[AgentState, str | None]:
    """Where an agent held for a call that never reached them goes: back to
    the pause they dialed from (or asked for meanwhile), else Ready."""
    if pause_after_call is not None:
        return A.PAUSED, pause_after_call
    return A.READY, None


class AgentRequest(StrEnum):
    """What an agent (or a supervisor for them) asks for."""

    READY = "ready"  # F2
    PAUSE = "pause"
    LEAVE = "leave"  # F4: leave the queue


class DispositionOwed(DomainError):
    """Ready or leave pressed in wrap-up before the call has a disposition."""

    status = 409
    error_id = "disposition-owed"


class CallInProgress(DomainError):
    status = 409
    error_id = "call-in-progress"


AFTER_WRAP_UP = None
"""`decide_request`'s answer for a pause kept until the wrap-up ends."""


def decide_request(
    state: AgentState, request: AgentRequest, *, owes_disposition: bool, call_coming: bool
) -> AgentState | None:
    """Where the agent's own request takes them now (their current state: no
    change), or AFTER_WRAP_UP for a pause kept until the call's wrap-up ends.

    The agent is at the screen when they press a key, so nothing they could
    still say about a call is thrown away for them: Ready or leave during a
    wrap-up that owes a disposition is refused (choose one first; the wrap-up
    limit still closes it on the server if they walk away). A pause is never
    refused: on a call, in wrap-up or while a call is being connected to them
    it takes effect when the wrap-up ends, so the dialer never places a call
    for an agent who asked to stop."""
    if request is AgentRequest.PAUSE:
        if state is A.ON_CALL or (state is A.RESERVED and call_coming):
            return AFTER_WRAP_UP
        if state is A.WRAP_UP and owes_disposition:
            return AFTER_WRAP_UP
        return A.PAUSED
    if state is A.ON_CALL or (state is A.RESERVED and call_coming):
        if request is AgentRequest.READY:
            return state
        raise CallInProgress(
            N_("finish the current call before leaving"), details={"state": str(state)}
        )
    if state is A.WRAP_UP and owes_disposition:
        raise DispositionOwed(
            N_("choose a disposition for the last call first"), details={"state": str(state)}
        )
    if request is AgentRequest.READY:
        return state if state is A.RESERVED else A.READY
    return A.LOGGED_OUT


def after_wrap_up(
    *, auto_ready: bool, pause_after_call: str | None, log_out_after_call: bool
) -> tuple[AgentState, str | None] | None:
    """Where an agent goes when their call's wrap-up ends (a disposition, or
    the server's timeout): what they asked for during the call first; else
    Ready when the campaign says so; None: they stay in wrap-up until they
    press Ready (or the wrap-up limit pauses them)."""
    if log_out_after_call:
        return A.LOGGED_OUT, "left during the call"
    if pause_after_call is not None:
        return A.PAUSED, pause_after_call
    if auto_ready:
        return A.READY, None
    return None


P = PhoneLegState
PHONE_LEG_TRANSITIONS: Mapping[PhoneLegState, frozenset[PhoneLegState]] = {
    P.DOWN: frozenset({P.CALLING, P.LOST}),
    # A new leg (a dialer restarted, or the agent changed phone) replaces the old one.
    P.CALLING: frozenset({P.CALLING, P.UP, P.LOST, P.DOWN}),
    P.UP: frozenset({P.CALLING, P.LOST, P.DOWN}),
    P.LOST: frozenset({P.DOWN}),  # the agent asks to be called again (go_ready)
}

MON = MonitorState
MONITOR_TRANSITIONS: Mapping[MonitorState, frozenset[MonitorState]] = {
    MON.CALLING: frozenset({MON.ACTIVE, MON.ENDED}),
    MON.ACTIVE: frozenset({MON.ACTIVE, MON.ENDED}),  # ACTIVE -> ACTIVE: another mode, same leg
    MON.ENDED: frozenset(),
}

C = CallState
CALL_TRANSITIONS: Mapping[CallState, frozenset[CallState]] = {
    C.DIALING: frozenset({C.RINGING, C.ANSWERED, C.CONNECTED, C.ENDED}),
    C.RINGING: frozenset({C.ANSWERED, C.CONNECTED, C.ENDED}),
    C.ANSWERED: frozenset({C.CONNECTED, C.ENDED}),
    C.CONNECTED: frozenset({C.ENDED}),
    C.ENDED: frozenset(),
}

L = LeadState
_AFTER_ATTEMPT = frozenset(
    {L.RETRY, L.CALLBACK, L.APPOINTMENT, L.SALE, L.REJECTED, L.DNC, L.INVALID, L.EXHAUSTED}
)
LEAD_TRANSITIONS: Mapping[LeadState, frozenset[LeadState]] = {
    L.NEW: frozenset({L.DIALING, L.DNC, L.ARCHIVED}),
    # DIALING -> NEW: an agent's manual dial claimed a new lead and no dialer
    # could place the call; the claim is given back, as if never made.
    L.DIALING: _AFTER_ATTEMPT | {L.NEW},
    L.RETRY: frozenset({L.DIALING, L.CALLBACK, L.DNC, L.EXHAUSTED, L.ARCHIVED}),
    # CALLBACK -> RETRY: the agent cancelled the callback; the lead goes back to
    # the campaign's ordinary retries.
    L.CALLBACK: frozenset({L.DIALING, L.CALLBACK, L.RETRY, L.DNC, L.ARCHIVED}),
    L.APPOINTMENT: frozenset({L.SALE, L.CALLBACK, L.ARCHIVED}),
    L.SALE: frozenset({L.ARCHIVED}),
    L.REJECTED: frozenset({L.CALLBACK, L.DNC, L.ARCHIVED, L.DIALING}),  # DIALING: by hand
    L.DNC: frozenset(),
    L.INVALID: frozenset({L.ARCHIVED}),
    L.EXHAUSTED: frozenset({L.RETRY, L.ARCHIVED, L.DIALING}),  # DIALING: by hand
    L.ARCHIVED: frozenset(),
}

X = TransferState
TRANSFER_TRANSITIONS: Mapping[TransferState, frozenset[TransferState]] = {
    X.REQUESTED: frozenset({X.CONSULTING, X.COMPLETED, X.CANCELLED, X.FAILED}),
    X.CONSULTING: frozenset({X.JOINED, X.COMPLETED, X.CANCELLED, X.FAILED}),
    X.JOINED: frozenset({X.COMPLETED, X.CANCELLED, X.FAILED}),
    X.COMPLETED: frozenset(),
    X.CANCELLED: frozenset(),
    X.FAILED: frozenset(),
}
OPEN_TRANSFER_STATES = frozenset({X.REQUESTED, X.CONSULTING, X.JOINED})
"""A call has at most one transfer in these states."""

M = AppointmentStatus
APPOINTMENT_TRANSITIONS: Mapping[AppointmentStatus, frozenset[AppointmentStatus]] = {
    M.BOOKED: frozenset({M.HELD, M.NO_SHOW, M.RESCHEDULED, M.CANCELLED}),
    M.HELD: frozenset({M.SOLD, M.NOT_SOLD}),
    M.NO_SHOW: frozenset(),
    M.RESCHEDULED: frozenset(),
    M.CANCELLED: frozenset(),
    M.SOLD: frozenset(),
    M.NOT_SOLD: frozenset(),
}
# Meetings that occupy their salesperson's calendar.
CALENDAR_HOLDING_STATUSES = frozenset({M.BOOKED})
# Meetings that took place (the funnel's "held" stage).
HELD_STATUSES = frozenset({M.HELD, M.SOLD, M.NOT_SOLD})

IMPORT_TRANSITIONS: Mapping[ImportState, frozenset[ImportState]] = {
    ImportState.QUEUED: frozenset({ImportState.RUNNING, ImportState.FAILED}),
    # RUNNING -> RUNNING: another worker takes over from one that stopped beating;
    # RUNNING -> QUEUED: its worker stopped cleanly and gave it back.
    ImportState.RUNNING: frozenset(
        {ImportState.RUNNING, ImportState.QUEUED, ImportState.DONE, ImportState.FAILED}
    ),
    ImportState.DONE: frozenset(),
    ImportState.FAILED: frozenset(),
}

# Leads the hopper may offer to the dialer (subject to windows, DNC, attempts).
DIALABLE_LEAD_STATES = frozenset({L.NEW, L.RETRY, L.CALLBACK})
# Leads an agent may dial by hand: the dialable ones, and those the dialer gave
# up on or the customer turned down once (the agent decides to try again).
# Never one being dialed, closed with a meeting or sale, invalid, or on DNC.
MANUALLY_DIALABLE_LEAD_STATES = DIALABLE_LEAD_STATES | {L.EXHAUSTED, L.REJECTED}


class IllegalTransition(DomainError):
    status = 409
    error_id = "illegal-transition"


S = TypeVar(
    "S",
    AgentState,
    PhoneLegState,
    CallState,
    LeadState,
    ImportState,
    AppointmentStatus,
    TransferState,
    MonitorState,
)


def advance(table: Mapping[S, frozenset[S]], current: S, new: S, *, subject: str) -> S:
    """Return `new` if the table allows current -> new, else raise."""
    if new not in table[current]:
        log.warning("illegal transition of %s: %s -> %s", subject, current, new)
        raise IllegalTransition(
            N_("%(subject)s cannot go from %(current)s to %(new)s"),
            details={"subject": subject, "from": str(current), "to": str(new)},
            subject=subject,
            current=str(current),
            new=str(new),
        )
    return new
