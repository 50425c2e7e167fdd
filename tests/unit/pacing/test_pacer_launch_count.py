"""The predictive launch count, evaluated a block of counts at a time, is the
one the one-call-at-a-time loop it replaced gives on the same states."""

from __future__ import annotations

import math
import random

import pytest

from dialer.pacing.pacer import _LOOKAHEAD, Pacer
from dialer.pacing.state import (
    AbandonTally,
    AgentStatus,
    AgentView,
    CallOutcome,
    CallResult,
    DialMode,
    PacerState,
    ServiceRecord,
)

_SQRT2 = math.sqrt(2.0)


def _expected_abandons_one(
    arrivals: list[float],
    arrivals_var: list[float],
    supply: list[float],
    supply_var: list[float],
) -> float:
    """The scalar algorithm as it was (commit 029348c)."""
    abandoned = 0.0
    before = 0.0
    for i, arrived in enumerate(arrivals):
        new = arrived - before
        if new > 1e-9:
            ahead = before + 0.5 * max(0.0, new - 1.0) - abandoned
            margin = ahead - supply[i] + 0.5
            variance = arrivals_var[i] + supply_var[i]
            if variance < 1e-12:
                abandoned += new if margin > 0.0 else 0.0
            else:
                z = margin / math.sqrt(variance)
                if z > -8.0:
                    abandoned += new * 0.5 * (1.0 + math.erf(z / _SQRT2))
        before = arrived
    return abandoned


class OneAtATimePacer(Pacer):
    """The launch loop as it was: every count up to 1000, cut to the headroom after."""

    def _predictive_launches(self, state: PacerState, risk: float, headroom: int) -> int:
        window = self.settings.abandon_window
        arrivals, arrivals_var, supply, supply_var = self._profiles(state, window)
        per_call = [self.answers.live_within(0, u) for u in _LOOKAHEAD]
        live_rate = self.answers.live_rate
        if live_rate <= 0.0:
            return 0
        allowed = risk * live_rate
        previous = _expected_abandons_one(arrivals, arrivals_var, supply, supply_var)
        launched = 0
        while launched < 1000:
            for i, p in enumerate(per_call):
                arrivals[i] += p
                arrivals_var[i] += p * (1.0 - p)
            current = _expected_abandons_one(arrivals, arrivals_var, supply, supply_var)
            if current - previous > allowed:
                break
            previous = current
            launched += 1
        return min(launched, headroom)


def _random_state(rnd: random.Random) -> PacerState:
    staffed = rnd.choice([1, 3, 10, 50, 200])
    ready = rnd.randint(0, staffed)
    busy = [AgentStatus.TALKING, AgentStatus.WRAPUP, AgentStatus.PAUSED]
    agents = [AgentView(AgentStatus.READY, rnd.uniform(0, 60)) for _ in range(ready)]
    agents += [
        AgentView(rnd.choice(busy), rnd.uniform(0, 300), logging_out=rnd.random() < 0.05)
        for _ in range(staffed - ready)
    ]
    results = list(CallResult)
    return PacerState(
        mode=DialMode.PREDICTIVE,
        agents=agents,
        calls_in_flight=[rnd.uniform(0, 30) for _ in range(rnd.choice([0, 0, 3, 20, 80]))],
        waiting_calls=rnd.choice([0, 0, 1, 4]),
        outcomes=[
            CallOutcome(rnd.choice(results), rnd.uniform(0, 25))
            for _ in range(rnd.choice([0, 5, 50]))
        ],
        services=[
            ServiceRecord(rnd.uniform(5, 200), rnd.uniform(0, 40))
            for _ in range(rnd.choice([0, 2, 20]))
        ],
        today=AbandonTally(rnd.randint(0, 2000), rnd.randint(0, 60)),
        last_30_days=AbandonTally(40000, rnd.randint(600, 1400)),
        abandon_cap=rnd.choice([0.01, 0.03, 0.05]),
        max_lines_per_agent=rnd.choice([1.0, 2.5, 3.0, 10.0]),
        trunk_limit=rnd.choice([None, None, 30, 500]),
    )


@pytest.mark.parametrize("seed", range(8))
def test_launches_match_the_one_at_a_time_loop(seed: int) -> None:
    """A pacer of each kind learns from the same stream of states: their
    decisions (calls, level, reason, whether it changed) are equal at every tick."""
    rnd = random.Random(seed)
    blocks, one_at_a_time = Pacer(), OneAtATimePacer()
    launched = []
    for _ in range(60):
        state = _random_state(rnd)
        decision = blocks.decide(state)
        assert decision == one_at_a_time.decide(state)
        launched.append(decision.calls_to_launch)
    # The states reach past the first block of counts, and the loop's own stop.
    assert max(launched) > 64
    assert any(0 < count < 16 for count in launched)


def test_many_ready_agents_stop_at_the_headroom() -> None:
    """200 agents ready and nothing ringing: the budget would allow more than
    the lines per agent; the count stops there, as the loop's did once cut."""
    state = PacerState(
        mode=DialMode.PREDICTIVE,
        agents=[AgentView(AgentStatus.READY, 5.0)] * 200,
        max_lines_per_agent=1.5,
    )
    decision = Pacer().decide(state)
    assert decision.calls_to_launch == 300
    assert decision == OneAtATimePacer().decide(state)
