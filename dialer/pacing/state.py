"""What the pacer sees each tick and what it answers.

Everything here is observable by a real dialer: agent states with the time
spent in them, the age of each call still ringing, the live calls queued for
an agent, and the outcomes reported since the previous tick. Nothing carries
a simulator's hidden draws (a busy agent's remaining talk time, a ringing
call's fate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class DialMode(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


class AgentStatus(StrEnum):
    READY = "ready"
    TALKING = "talking"
    WRAPUP = "wrapup"
    PAUSED = "paused"


class CallResult(StrEnum):
    LIVE = "live"
    MACHINE = "machine"
    FAILED = "failed"
    NO_ANSWER = "no_answer"


@dataclass(frozen=True, slots=True)
class AgentView:
    """One logged-in agent; `elapsed` is seconds spent in `status` so far.

    `logging_out` is set once the agent asked to leave after the current
    call, so the pacer does not count on them becoming free.
    """

    status: AgentStatus
    elapsed: float = 0.0
    logging_out: bool = False


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """A dialled call that stopped ringing.

    `seconds` runs from launch to the live answer (LIVE) or to the release
    of the line (every other result, e.g. after answering-machine detection).
    """

    result: CallResult
    seconds: float


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """A finished agent contact: talk time then wrap-up time, in seconds."""

    talk_seconds: float
    wrap_seconds: float


@dataclass(frozen=True, slots=True)
class AbandonTally:
    """Live answers and abandoned (dropped) calls counted over one period."""

    live_answers: int = 0
    abandoned: int = 0

    @property
    def rate(self) -> float:
        return self.abandoned / self.live_answers if self.live_answers else 0.0


@dataclass(frozen=True, slots=True)
class PacerState:
    """The observable state of one campaign at a decision tick.

    `calls_in_flight` holds the age in seconds of every launched call that
    has neither been answered live nor released; `waiting_calls` counts live
    answers queued for an agent. `outcomes` and `services` hold only what was
    reported since the previous decision (the pacer keeps its own history).
    Calls ringing or queued may not exceed `max_lines_per_agent` per staffed
    agent, and with connected calls they may not exceed `trunk_limit`.
    """

    mode: DialMode
    agents: Sequence[AgentView]
    calls_in_flight: Sequence[float] = ()
    waiting_calls: int = 0
    outcomes: Sequence[CallOutcome] = ()
    services: Sequence[ServiceRecord] = ()
    today: AbandonTally = field(default_factory=AbandonTally)
    last_30_days: AbandonTally = field(default_factory=AbandonTally)
    abandon_cap: float = 0.03
    max_lines_per_agent: float = 3.0
    trunk_limit: int | None = None


@dataclass(frozen=True, slots=True)
class PacerDecision:
    """How many calls to launch now, and the dial level behind it.

    `dial_level` is, in predictive mode, the lines in use (ringing, queued,
    connected, plus this launch) per staffed agent averaged over about two
    minutes; 1.0 in progressive mode and 0.0 in preview. `changed` is true
    when it moved enough since the last logged change (or the mode changed);
    the worker persists those decisions (with `reason`) as the audit trail.
    """

    calls_to_launch: int
    dial_level: float
    reason: str
    changed: bool
