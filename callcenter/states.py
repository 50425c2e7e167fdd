"""Lifecycles of agents, calls and leads as explicit transition tables.

Services move a row only through `advance`; an illegal move raises
`IllegalTransition` (logged, and a 409 at the edge)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from callcenter.errors import DomainError

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


A = AgentState
AGENT_TRANSITIONS: Mapping[AgentState, frozenset[AgentState]] = {
    A.LOGGED_OUT: frozenset({A.READY, A.PAUSED}),
    A.READY: frozenset({A.RESERVED, A.PAUSED, A.LOGGED_OUT}),
    A.RESERVED: frozenset({A.ON_CALL, A.READY, A.PAUSED, A.LOGGED_OUT}),
    A.ON_CALL: frozenset({A.WRAP_UP, A.LOGGED_OUT}),
    A.WRAP_UP: frozenset({A.READY, A.PAUSED, A.LOGGED_OUT}),
    A.PAUSED: frozenset({A.READY, A.LOGGED_OUT}),
}

P = PhoneLegState
PHONE_LEG_TRANSITIONS: Mapping[PhoneLegState, frozenset[PhoneLegState]] = {
    P.DOWN: frozenset({P.CALLING, P.LOST}),
    # A new leg (a dialer restarted, or the agent changed phone) replaces the old one.
    P.CALLING: frozenset({P.CALLING, P.UP, P.LOST, P.DOWN}),
    P.UP: frozenset({P.CALLING, P.LOST, P.DOWN}),
    P.LOST: frozenset({P.DOWN}),  # the agent asks to be called again (go_ready)
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
    L.DIALING: _AFTER_ATTEMPT,
    L.RETRY: frozenset({L.DIALING, L.CALLBACK, L.DNC, L.EXHAUSTED, L.ARCHIVED}),
    L.CALLBACK: frozenset({L.DIALING, L.CALLBACK, L.DNC, L.ARCHIVED}),
    L.APPOINTMENT: frozenset({L.SALE, L.CALLBACK, L.ARCHIVED}),
    L.SALE: frozenset({L.ARCHIVED}),
    L.REJECTED: frozenset({L.CALLBACK, L.DNC, L.ARCHIVED}),
    L.DNC: frozenset(),
    L.INVALID: frozenset({L.ARCHIVED}),
    L.EXHAUSTED: frozenset({L.RETRY, L.ARCHIVED}),
    L.ARCHIVED: frozenset(),
}

# Leads the hopper may offer to the dialer (subject to windows, DNC, attempts).
DIALABLE_LEAD_STATES = frozenset({L.NEW, L.RETRY, L.CALLBACK})


class IllegalTransition(DomainError):
    status = 409
    error_id = "illegal-transition"


S = TypeVar("S", AgentState, PhoneLegState, CallState, LeadState)


def advance(table: Mapping[S, frozenset[S]], current: S, new: S, *, subject: str) -> S:
    """Return `new` if the table allows current -> new, else raise."""
    if new not in table[current]:
        log.warning("illegal transition of %s: %s -> %s", subject, current, new)
        raise IllegalTransition(
            f"{subject} cannot go from {current} to {new}",
            details={"subject": subject, "from": str(current), "to": str(new)},
        )
    return new
