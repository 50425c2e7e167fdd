"""Runs policies over scenarios and seeds and checks the predictive bar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import get_context

from bench.pacing.baselines import FixedRatio, VicidialAdapt
from bench.pacing.model import CallModel, Scenario
from bench.pacing.sim import Policy, RunResult, Simulation
from dialer.pacing.pacer import Pacer, PacerSettings
from dialer.pacing.state import DialMode

PREDICTIVE = "predictive"


def make_policy(name: str, model: CallModel) -> tuple[Policy, DialMode]:
    """Build a policy from its name: predictive, progressive, fixed-<level>,
    vici-average or vici-tapered."""
    if name == PREDICTIVE:
        settings = PacerSettings(abandon_window=round(model.abandon_window))
        return Pacer(settings), DialMode.PREDICTIVE
    if name == "progressive":
        return Pacer(), DialMode.PROGRESSIVE
    if name.startswith("fixed-"):
        return FixedRatio(float(name.removeprefix("fixed-"))), DialMode.PREDICTIVE
    if name in ("vici-average", "vici-tapered"):
        method = "ADAPT_AVERAGE" if name == "vici-average" else "ADAPT_TAPERED"
        adapt = VicidialAdapt(
            method,
            dropped_percentage=model.abandon_cap * 100.0,
            tick_seconds=model.tick,
        )
        return adapt, DialMode.PREDICTIVE
    raise ValueError(f"unknown policy {name!r}")


@dataclass(frozen=True, slots=True)
class Task:
    model: CallModel
    scenario: Scenario
    policy: str
    seed: int


def run_task(task: Task) -> RunResult:
    policy, mode = make_policy(task.policy, task.model)
    simulation = Simulation(task.model, task.scenario, policy, mode, task.seed)
    return simulation.run(task.policy, task.seed)


def run_all(tasks: Sequence[Task], jobs: int) -> list[RunResult]:
    if jobs <= 1:
        return [run_task(task) for task in tasks]
    # Longest tasks first keeps both workers busy until the end.
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i].scenario.agents)
    with get_context("fork").Pool(jobs) as pool:
        results = pool.map(run_task, [tasks[i] for i in order], chunksize=1)
    by_index = dict(zip(order, results, strict=True))
    return [by_index[i] for i in range(len(tasks))]


def failures(
    results: Sequence[RunResult], scenarios: Sequence[Scenario], model: CallModel
) -> list[str]:
    """Every predictive run that misses the abandon cap or its occupancy bar."""
    bars = {s.name: s.min_occupancy for s in scenarios}
    failed = []
    for r in results:
        if r.policy != PREDICTIVE:
            continue
        problems = []
        if r.abandon_rate > model.abandon_cap:
            problems.append(f"abandon {r.abandon_rate:.2%} > {model.abandon_cap:.1%}")
        if r.occupancy < bars[r.scenario]:
            problems.append(f"occupancy {r.occupancy:.2%} < {bars[r.scenario]:.1%}")
        if problems:
            failed.append(f"{r.scenario} seed {r.seed}: {', '.join(problems)}")
    return failed
