"""The benchmark simulator driving the real pacer, and its baselines."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.pacing.__main__ import main
from bench.pacing.baselines import VicidialAdapt
from bench.pacing.model import CallModel, Scenario
from bench.pacing.runner import Task, run_task
from dialer.pacing.state import (
    AbandonTally,
    AgentStatus,
    AgentView,
    CallOutcome,
    CallResult,
    DialMode,
    PacerState,
)

SHORT = CallModel(hours=1 / 3)
TEN_AGENTS = Scenario("short", agents=10, answer_rate=0.30, min_occupancy=0.0)


def run(policy: str, seed: int = 1, scenario: Scenario = TEN_AGENTS):
    return run_task(Task(SHORT, scenario, policy, seed))


def test_simulator_is_deterministic_per_seed() -> None:
    assert run("predictive", seed=4) == run("predictive", seed=4)
    assert run("predictive", seed=4) != run("predictive", seed=5)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_short_predictive_run_keeps_abandons_under_the_cap(seed: int) -> None:
    result = run("predictive", seed)
    assert result.live_answers > 30
    assert result.abandon_rate <= SHORT.abandon_cap
    assert result.occupancy > run("progressive", seed).occupancy


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_aggressive_fixed_ratio_breaks_the_cap_in_the_same_simulator(seed: int) -> None:
    assert run("fixed-3.0", seed).abandon_rate > SHORT.abandon_cap


def test_progressive_never_abandons() -> None:
    result = run("progressive")
    assert result.abandoned == 0
    assert result.mean_connect_wait == 0.0


def test_cli_check_names_failing_cells(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--hours",
            "0.05",
            "--agents",
            "10",
            "--answer-rates",
            "0.30",
            "--scenarios",
            "N10-p0.30",
            "--policies",
            "predictive",
            "--seeds",
            "1",
            "--jobs",
            "1",
            "--check",
        ]
    )
    out = capsys.readouterr().out
    # Three minutes cannot reach the 85.5% occupancy bar from a cold start.
    assert code == 1
    assert "FAIL N10-p0.30 seed 1" in out


def _vici_state(ready: int, talking: int, waiting: int, live: int, abandoned: int) -> PacerState:
    agents = [AgentView(AgentStatus.READY)] * ready + [AgentView(AgentStatus.TALKING)] * talking
    return PacerState(
        DialMode.PREDICTIVE,
        agents,
        waiting_calls=waiting,
        today=AbandonTally(live, abandoned),
    )


def test_vicidial_port_raises_level_with_idle_agents_every_15_seconds() -> None:
    adapt = VicidialAdapt("ADAPT_AVERAGE")
    levels = [adapt.decide(_vici_state(4, 6, 0, 0, 0)).dial_level for _ in range(31)]
    assert levels[14] == 1.0
    # 15 s of samples with 4 of 10 agents ready: level x (1 + 4/10).
    assert levels[15] == pytest.approx(1.4)
    assert levels[30] == pytest.approx(1.96)


def test_vicidial_port_halves_level_when_drops_exceed_target() -> None:
    adapt = VicidialAdapt("ADAPT_AVERAGE", initial_level=2.0)
    # 60 finished calls a tick, 10 drops over 100 live answers today (10% > 3%).
    no_answer = CallOutcome(CallResult.NO_ANSWER, 20.0)
    busy = replace(_vici_state(0, 10, 0, 100, 10), outcomes=[no_answer] * 60)
    levels = [adapt.decide(busy).dial_level for _ in range(16)]
    assert levels[-1] == pytest.approx(1.0)
