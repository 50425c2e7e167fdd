"""Pure rules the dialer applies to its calls: the outcome a call is
recorded with, what a pacer decision lets it place, whose number was rung."""

from __future__ import annotations

from typing import Any

from dialer.carrier import AmdVerdict
from dialer.pacing import AgentStatus, CallResult, PacerDecision
from dialer.ports import AgentPhase

ABANDONED = "abandoned"

# A machine an agent took (AMD off) stays LIVE here, even once the agent marks
# it: it needed an agent, which is what the pacer's answer estimate is for; the
# abandon tallies are read from the rows, where it is a machine.
PACER_RESULTS = {
    "answered": CallResult.LIVE,
    "machine": CallResult.MACHINE,
    "no_answer": CallResult.NO_ANSWER,
}
PACER_STATUS = {
    AgentPhase.READY: AgentStatus.READY,
    AgentPhase.RESERVED: AgentStatus.TALKING,
    AgentPhase.ON_CALL: AgentStatus.TALKING,
    AgentPhase.WRAP_UP: AgentStatus.WRAPUP,
    AgentPhase.PAUSED: AgentStatus.PAUSED,
}


def outcome_of_ended(carrier_outcome: str | None, *, answered: bool, connected: bool) -> str:
    """The call's recorded outcome: a live answer no agent took is abandoned
    (even when the customer hung up first); a machine is never abandoned."""
    outcome = carrier_outcome or "failed"
    if answered and not connected and outcome != "machine":
        return ABANDONED
    return outcome


def same_number(ours: str, dialed: str) -> bool:
    """Whether a number called is a campaign's caller ID, however either is
    written (+98 21..., 0098 21..., 021...): their last ten digits agree."""
    ours_digits = "".join(ch for ch in ours if ch.isdigit())
    dialed_digits = "".join(ch for ch in dialed if ch.isdigit())
    if len(ours_digits) < 7 or len(dialed_digits) < 7:
        return False
    return ours_digits[-10:].lstrip("0") == dialed_digits[-10:].lstrip("0")


def amd_fields(verdict: AmdVerdict | None) -> dict[str, Any]:
    """A carrier's AMD verdict as the call events carry it."""
    if verdict is None:
        return {}
    return {
        "amd_result": verdict.result.value,
        "amd_decision_ms": verdict.decision_ms,
        "amd_action": verdict.action.value if verdict.action is not None else None,
    }


def launches_allowed(decision: PacerDecision, *, healthy: bool, trunk_room: int | None) -> int:
    """What the worker actually places: nothing on an unhealthy trunk, never
    past the trunk's limit on calls up at once."""
    if not healthy:
        return 0
    launches = max(0, decision.calls_to_launch)
    return launches if trunk_room is None else min(launches, trunk_room)
