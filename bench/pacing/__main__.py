"""python -m bench.pacing: the pacing benchmark table (see --help)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import TypeVar

from bench.pacing.model import CallModel, default_scenarios
from bench.pacing.runner import PREDICTIVE, Task, failures, run_all
from bench.pacing.sim import RunResult

T = TypeVar("T")

DEFAULT_POLICIES = (
    "predictive,progressive,fixed-1.5,fixed-2.5,fixed-3.0,fixed-5.0,vici-average,vici-tapered"
)


def _csv(kind: Callable[[str], T]) -> Callable[[str], tuple[T, ...]]:
    return lambda text: tuple(kind(part) for part in text.split(",") if part)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.pacing", description=__doc__)
    parser.add_argument("--seeds", type=_csv(int), default=(1, 2, 3))
    parser.add_argument("--policies", type=_csv(str), default=tuple(DEFAULT_POLICIES.split(",")))
    parser.add_argument("--agents", type=_csv(int), default=(10, 50))
    parser.add_argument("--answer-rates", type=_csv(float), default=(0.15, 0.30))
    parser.add_argument("--change-hour", type=float, default=4.0)
    parser.add_argument("--logout-agents", type=int, default=20)
    parser.add_argument("--scenarios", type=_csv(str), default=(), help="only these scenario names")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a predictive run misses the bar"
    )
    model = parser.add_argument_group("call model")
    for f in fields(CallModel):
        model.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    model = CallModel(**{f.name: getattr(args, f.name) for f in fields(CallModel)})
    scenarios = default_scenarios(
        args.agents, args.answer_rates, args.change_hour, args.logout_agents
    )
    if args.scenarios:
        scenarios = [s for s in scenarios if s.name in args.scenarios]
    tasks = [
        Task(model, scenario, policy, seed)
        for scenario in scenarios
        for seed in args.seeds
        for policy in args.policies
    ]
    started = time.monotonic()
    results = run_all(tasks, args.jobs)
    elapsed = time.monotonic() - started
    failed = failures(results, scenarios, model) if PREDICTIVE in args.policies else []
    if args.json:
        payload = {
            "model": asdict(model),
            "scenarios": [asdict(s) for s in scenarios],
            "results": [asdict(r) for r in results],
            "failures": failed,
            "wall_seconds": round(elapsed, 1),
        }
        print(json.dumps(payload, indent=2))
    else:
        _print_table(results, {s.name: s.min_occupancy for s in scenarios}, model)
        print(f"\n{len(tasks)} runs in {elapsed:.0f} s")
        if PREDICTIVE in args.policies:
            print("bar: " + ("all predictive runs pass" if not failed else "FAIL"))
            for line in failed:
                print(f"  FAIL {line}")
    return 1 if args.check and failed else 0


def _print_table(results: list[RunResult], bars: dict[str, float], model: CallModel) -> None:
    header = (
        f"{'scenario':<18}{'seed':>5} {'policy':<14}{'occup%':>8}{'talk m/ah':>10}"
        f"{'aband%':>8}{'dials/ah':>9}{'cont/ah':>8}{'wait s':>7}{'lvl chg':>8}  bar"
    )
    print(header)
    print("-" * len(header))
    previous = None
    for r in results:
        if previous and (r.scenario, r.seed) != previous:
            print()
        previous = (r.scenario, r.seed)
        verdict = ""
        if r.policy == PREDICTIVE:
            ok = r.abandon_rate <= model.abandon_cap and r.occupancy >= bars[r.scenario]
            verdict = f"{'ok' if ok else 'FAIL'} (>= {bars[r.scenario]:.1%})"
        print(
            f"{r.scenario:<18}{r.seed:>5} {r.policy:<14}{r.occupancy * 100:>8.2f}"
            f"{r.talk_minutes_per_agent_hour:>10.1f}{r.abandon_rate * 100:>8.2f}"
            f"{r.dials_per_agent_hour:>9.1f}{r.contacts_per_agent_hour:>8.1f}"
            f"{r.mean_connect_wait:>7.2f}{r.level_changes:>8}  {verdict}"
        )


if __name__ == "__main__":
    sys.exit(main())
