"""Call pacing: how many calls a campaign launches each tick.

The worker keeps one `Pacer` per running campaign and, every tick (1 s):

1. builds a `PacerState` from what it observes: every logged-in agent's
   status and seconds in it (flagging agents who asked to log out after the
   current call), the age of every call still ringing, the live answers
   queued for an agent, the outcomes and finished contacts reported since the
   previous tick, today's and the rolling 30 days' live answers and
   abandons, the campaign's abandon cap, lines per agent and trunk limit;
2. calls `decide(state)` and launches `calls_to_launch` calls;
3. persists the decision when `changed` is true (the dial-level audit trail:
   level and reason), and from time to time `export_state()` (JSON) so that a
   restarted worker can `restore_state()` the learned distributions.
"""

from dialer.pacing.pacer import Pacer, PacerSettings
from dialer.pacing.state import (
    AbandonTally,
    AgentStatus,
    AgentView,
    CallOutcome,
    CallResult,
    DialMode,
    PacerDecision,
    PacerState,
    ServiceRecord,
)

__all__ = [
    "AbandonTally",
    "AgentStatus",
    "AgentView",
    "CallOutcome",
    "CallResult",
    "DialMode",
    "Pacer",
    "PacerDecision",
    "PacerSettings",
    "PacerState",
    "ServiceRecord",
]
