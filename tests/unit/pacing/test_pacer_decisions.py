"""Decisions of the pacer on hand-built states."""

from __future__ import annotations

import json

import pytest

from dialer.pacing.pacer import Pacer
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

READY = AgentView(AgentStatus.READY, 5.0)


def wrapping(elapsed: float) -> AgentView:
    return AgentView(AgentStatus.WRAPUP, elapsed)


def talking(elapsed: float) -> AgentView:
    return AgentView(AgentStatus.TALKING, elapsed)


def state(mode: DialMode = DialMode.PREDICTIVE, **changes: object) -> PacerState:
    fields: dict[str, object] = {
        "mode": mode,
        "agents": [READY, READY, wrapping(12.0), talking(150.0), talking(30.0)],
        "today": AbandonTally(400, 4),
        "last_30_days": AbandonTally(9000, 150),
    }
    fields.update(changes)
    return PacerState(**fields)  # type: ignore[arg-type]


def launches(pacer_state: PacerState) -> int:
    return Pacer().decide(pacer_state).calls_to_launch


@pytest.mark.parametrize("mode", [DialMode.PREDICTIVE, DialMode.PROGRESSIVE])
def test_no_agents_means_no_calls(mode: DialMode) -> None:
    assert launches(state(mode, agents=[])) == 0


@pytest.mark.parametrize("mode", [DialMode.PREDICTIVE, DialMode.PROGRESSIVE])
def test_paused_or_leaving_agents_get_no_calls(mode: DialMode) -> None:
    agents = [
        AgentView(AgentStatus.PAUSED, 30.0),
        AgentView(AgentStatus.READY, 1.0, logging_out=True),
        AgentView(AgentStatus.WRAPUP, 19.0, logging_out=True),
    ]
    assert launches(state(mode, agents=agents)) == 0


def test_busy_agents_far_from_free_get_no_calls() -> None:
    agents = [talking(1.0) for _ in range(5)]
    assert launches(state(agents=agents)) == 0


def test_predictive_dials_ahead_of_ready_agents() -> None:
    assert launches(state()) > 2


def test_waiting_calls_mean_fewer_calls() -> None:
    assert launches(state(waiting_calls=2)) < launches(state())


def test_calls_in_flight_mean_fewer_calls() -> None:
    assert launches(state(calls_in_flight=[3.0, 3.0, 5.0, 8.0])) < launches(state())


def test_rising_abandons_lower_the_risk_budget_and_the_calls() -> None:
    pacer = Pacer()
    budgets = [
        pacer.risk_budget(state(today=AbandonTally(400, abandoned)))
        for abandoned in (0, 6, 10, 14, 20)
    ]
    assert budgets == sorted(budgets, reverse=True)
    assert budgets[0] > budgets[-1]
    calm = launches(state(today=AbandonTally(400, 0)))
    over_cap = launches(state(today=AbandonTally(400, 20)))
    assert over_cap < calm


def test_thirty_day_overshoot_also_tightens() -> None:
    pacer = Pacer()
    calm = pacer.risk_budget(state())
    month_over = pacer.risk_budget(state(last_30_days=AbandonTally(9000, 300)))
    assert month_over < calm


def test_higher_learned_answer_rate_means_fewer_calls() -> None:
    def learned(live_share: float) -> int:
        pacer = Pacer()
        outcomes = [
            CallOutcome(CallResult.LIVE, 8.0)
            if i % 100 < live_share * 100
            else CallOutcome(CallResult.NO_ANSWER, 20.0)
            for i in range(2000)
        ]
        pacer.decide(state(outcomes=outcomes))
        return pacer.decide(state()).calls_to_launch

    assert learned(0.40) < learned(0.10)


@pytest.mark.parametrize("ready", [0, 1, 3, 8])
@pytest.mark.parametrize("in_flight", [0, 1, 4])
@pytest.mark.parametrize("waiting", [0, 2])
def test_progressive_never_exceeds_ready_agents(ready: int, in_flight: int, waiting: int) -> None:
    agents = [READY] * ready + [talking(40.0), wrapping(18.0)]
    pacer_state = state(
        DialMode.PROGRESSIVE,
        agents=agents,
        calls_in_flight=[2.0] * in_flight,
        waiting_calls=waiting,
    )
    launch = launches(pacer_state)
    assert launch == max(0, ready - in_flight - waiting)
    if launch:
        assert launch + in_flight + waiting <= ready


def test_preview_places_no_calls() -> None:
    decision = Pacer().decide(state(DialMode.PREVIEW))
    assert decision.calls_to_launch == 0
    assert "preview" in decision.reason


def test_lines_per_agent_limit() -> None:
    agents = [READY] * 4
    # 4 agents x 1.5 lines = 6 lines, 5 already used by calls in flight.
    pacer_state = state(agents=agents, calls_in_flight=[1.0] * 5, max_lines_per_agent=1.5)
    assert launches(pacer_state) <= 1
    assert launches(state(agents=agents, max_lines_per_agent=1.0)) <= 4


@pytest.mark.parametrize("mode", [DialMode.PREDICTIVE, DialMode.PROGRESSIVE])
def test_trunk_limit_counts_ringing_waiting_and_connected_calls(mode: DialMode) -> None:
    agents = [READY] * 6 + [talking(60.0)] * 3
    pacer_state = state(mode, agents=agents, calls_in_flight=[1.0], waiting_calls=1, trunk_limit=7)
    # 7 trunks - 1 ringing - 1 waiting - 3 connected.
    assert launches(pacer_state) <= 2
    full = state(mode, agents=agents, calls_in_flight=[1.0] * 4, trunk_limit=7)
    assert launches(full) == 0


def test_first_decision_logs_the_level_with_a_reason() -> None:
    decision = Pacer().decide(state())
    assert decision.changed
    assert decision.dial_level > 0
    assert "predictive pacing started" in decision.reason


def test_level_changes_carry_a_reason_and_steady_ticks_do_not_log() -> None:
    pacer = Pacer()
    pacer.decide(state())
    steady = [pacer.decide(state()) for _ in range(5)]
    assert not any(d.changed for d in steady)
    # Half the agents log out: the level moves and the log says why.
    fewer = [READY, talking(150.0)]
    decisions = [pacer.decide(state(agents=fewer, calls_in_flight=[2.0] * 6)) for _ in range(300)]
    changes = [d for d in decisions if d.changed]
    assert changes
    assert all(d.reason for d in changes)
    assert "logged out" in changes[0].reason


def test_mode_switch_is_logged() -> None:
    pacer = Pacer()
    pacer.decide(state())
    decision = pacer.decide(state(DialMode.PROGRESSIVE))
    assert decision.changed
    assert decision.dial_level == 1.0
    assert "progressive" in decision.reason


def test_learned_state_survives_a_restart() -> None:
    pacer = Pacer()
    outcomes = [CallOutcome(CallResult.LIVE, 6.0)] * 50 + [
        CallOutcome(CallResult.FAILED, 2.0)
    ] * 150
    services = [ServiceRecord(90.0, 15.0)] * 60
    pacer.decide(state(outcomes=outcomes, services=services))
    restored = Pacer()
    restored.restore_state(json.loads(json.dumps(pacer.export_state())))
    assert restored.answers.live_rate == pytest.approx(pacer.answers.live_rate)
    busy = state(agents=[wrapping(10.0), talking(85.0), READY])
    assert restored.decide(busy).calls_to_launch == pacer.decide(busy).calls_to_launch


@pytest.mark.parametrize("ready_agents", [1, 2, 4])
def test_a_cold_start_still_gives_each_ready_agent_a_call(ready_agents: int) -> None:
    """Nothing learned yet and nothing in flight: a call per free agent cannot be abandoned."""
    cold = state(
        agents=[READY] * ready_agents,
        today=AbandonTally(0, 0),
        last_30_days=AbandonTally(0, 0),
    )
    assert launches(cold) >= ready_agents


def test_predictive_never_launches_fewer_than_progressive() -> None:
    for agents in ([READY], [READY, talking(20.0)], [READY, READY, wrapping(5.0)]):
        for in_flight in ([], [3.0]):
            common = {
                "agents": agents,
                "calls_in_flight": in_flight,
                "today": AbandonTally(0, 0),
                "last_30_days": AbandonTally(0, 0),
            }
            predictive = launches(state(**common))
            progressive = launches(state(DialMode.PROGRESSIVE, **common))
            assert predictive >= progressive, (agents, in_flight)
