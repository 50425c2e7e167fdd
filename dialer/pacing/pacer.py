"""The campaign pacer: observable state in, number of calls to launch out.

Predictive mode looks ~20 s ahead. The live answers expected from the calls
already ringing (each with a hazard learned from past answer times, given
how long it has rung) and the agents expected to be free (each with the
learned talk and wrap-up distribution, given how long they have been busy)
are both sums of independent Bernoulli trials, approximated as normal. Per
short interval, the answers arriving in it are abandoned with the chance
that the answers ahead of them (less those already abandoned) use up every
agent free by their deadline, which gives the expected abandons. Calls are
launched one at a time while the extra abandons a call adds, per live answer
it brings, stay under a risk budget; the budget grows while the campaign's
abandon count is under its target (today's and the rolling 30 days', each
with a safety margin) and shrinks fast when it is over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dialer.pacing.estimators import AnswerModel, ServiceModel
from dialer.pacing.state import (
    AgentStatus,
    DialMode,
    PacerDecision,
    PacerState,
)

# Seconds ahead splitting the next live answers into intervals (0 holds the
# calls already waiting); an answer in an interval needs an agent free by its
# middle plus the abandon window.
_LOOKAHEAD = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 17, 21)
_SUPPLY_AT = tuple(
    prev + (u - prev) // 2 for prev, u in zip((0, *_LOOKAHEAD), _LOOKAHEAD, strict=False)
)
_BUSY = (AgentStatus.TALKING, AgentStatus.WRAPUP)
_SQRT2 = math.sqrt(2.0)
_FIRST_BLOCK = 64
"""Launch counts evaluated at once; each further block is four times as long
(a numpy operation on 64 rows costs about what it does on one)."""
_erf = np.frompyfunc(math.erf, 1, 1)
"""`math.erf` itself on an array, so each row's result is the scalar one's."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PacerSettings:
    abandon_window: int = 2
    """Seconds a live answer waits for an agent before it counts as abandoned."""
    day_margin: float = 0.10
    """Aim today's abandon rate this fraction under the cap."""
    month_margin: float = 0.10
    """Aim the rolling 30-day abandon rate this fraction under the cap."""
    reserve_abandons: float = 1.5
    """Abandons kept in reserve on top of the margins (matters early in the day)."""
    base_risk: float = 0.05
    """Risk budget with no slack: the share of a marginal call's live answer
    that may end up abandoned."""
    min_risk: float = 0.002
    max_risk: float = 0.45
    slack_scale: float = 2.0
    """Abandons of slack (or overshoot) that move the budget by a factor e."""
    level_smoothing: float = 120.0
    """Seconds over which the reported dial level is averaged."""
    level_step: float = 0.1
    level_step_ratio: float = 0.15
    """A move of the reported dial level is logged as a change once it reaches
    both `level_step` and this share of the last logged level."""


@dataclass(slots=True)
class _LevelLog:
    level: float = 0.0
    smoothed: float = 0.0
    staffed: int = 0
    live_rate: float = 0.0
    risk: float = 0.0
    mode: DialMode | None = None


class Pacer:
    """Decides, once per tick, how many calls one campaign launches."""

    def __init__(
        self,
        settings: PacerSettings | None = None,
        answers: AnswerModel | None = None,
        service: ServiceModel | None = None,
    ) -> None:
        self.settings = settings or PacerSettings()
        self.answers = answers or AnswerModel()
        self.service = service or ServiceModel()
        self._log = _LevelLog()
        self._talk_cache: dict[int, tuple[float, ...]] = {}
        self._wrap_cache: dict[int, tuple[float, ...]] = {}
        self._cache_version = -1

    def decide(self, state: PacerState) -> PacerDecision:
        for outcome in state.outcomes:
            self.answers.observe(outcome)
        for record in state.services:
            self.service.observe(record)
        if state.mode is DialMode.PREVIEW:
            return self._report(state, 0, 0.0, "preview: agents place their own calls")
        staffed = _staffed(state)
        if staffed == 0:
            return self._report(state, 0, 0.0, "no agents staffed")
        headroom = _line_headroom(state, staffed)
        # A call with a ready agent of its own cannot be abandoned, so predictive
        # never launches fewer than progressive (the normal approximation below
        # overstates the risk when there are only a few agents).
        one_per_ready = _ready(state) - len(state.calls_in_flight) - state.waiting_calls
        progressive = max(0, min(one_per_ready, headroom))
        if state.mode is DialMode.PROGRESSIVE:
            return self._report(state, progressive, 1.0, "progressive: one call per ready agent")
        risk = self.risk_budget(state)
        launch = max(progressive, self._predictive_launches(state, risk, headroom))
        talking = sum(1 for a in state.agents if a.status is AgentStatus.TALKING)
        lines = len(state.calls_in_flight) + state.waiting_calls + talking + launch
        return self._report(state, launch, lines / staffed, "", risk=risk, staffed=staffed)

    def risk_budget(self, state: PacerState) -> float:
        """Share of a marginal call's live answer allowed to end up abandoned."""
        s = self.settings
        day_slack = (
            state.abandon_cap * (1.0 - s.day_margin) * state.today.live_answers
            - state.today.abandoned
        )
        month_slack = (
            state.abandon_cap * (1.0 - s.month_margin) * state.last_30_days.live_answers
            - state.last_30_days.abandoned
        )
        slack = min(day_slack, month_slack) - s.reserve_abandons
        exponent = max(-50.0, min(50.0, slack / s.slack_scale))
        return max(s.min_risk, min(s.max_risk, s.base_risk * math.exp(exponent)))

    def _predictive_launches(self, state: PacerState, risk: float, headroom: int) -> int:
        """Calls launched one at a time while the extra abandons each adds stay
        within the budget, up to `headroom` (counting further would be cut to it).

        The counts 0, 1, 2, ... are evaluated a block at a time as rows of
        arrays: each row is what the one-at-a-time loop would hold, bit for bit
        (running sums, then the same operations in the same order)."""
        window = self.settings.abandon_window
        arrivals, arrivals_var, supply, supply_var = self._profiles(state, window)
        answers = self.answers
        per_call = [answers.live_within(0, u) for u in _LOOKAHEAD]
        live_rate = answers.live_rate
        if live_rate <= 0.0:
            return 0
        allowed = risk * live_rate
        # Lines per agent caps the count long before this bound in practice.
        limit = min(headroom, 1000)
        step = np.array([per_call, [p * (1.0 - p) for p in per_call]])
        last = np.array([arrivals, arrivals_var])
        launched = 0
        block = _FIRST_BLOCK
        while launched < limit:
            count = min(block, limit - launched)
            rows = _running_sums(last, step, count)
            expected = _expected_abandons(rows[0], rows[1], supply, supply_var)
            over = np.flatnonzero(np.diff(expected) > allowed)
            if over.size:
                return launched + int(over[0])
            launched += count
            last = rows[:, -1, :]
            block *= 4
        return launched

    def _profiles(
        self, state: PacerState, window: int
    ) -> tuple[list[float], list[float], list[float], list[float]]:
        """Mean and variance of live answers by each lookahead, and of agents
        free by the supply points that go with them."""
        n = len(_LOOKAHEAD)
        arrivals = [float(state.waiting_calls)] * n
        arrivals_var = [0.0] * n
        ages: dict[int, int] = {}
        for age in state.calls_in_flight:
            ages[int(age)] = ages.get(int(age), 0) + 1
        for age, count in ages.items():
            for i, p in enumerate(self.answers.live_profile(age, _LOOKAHEAD)):
                arrivals[i] += count * p
                arrivals_var[i] += count * p * (1.0 - p)
        self._sync_cache()
        ready = 0
        busy: dict[tuple[AgentStatus, int], int] = {}
        for agent in state.agents:
            if agent.logging_out:
                continue
            if agent.status is AgentStatus.READY:
                ready += 1
            elif agent.status in _BUSY:
                bucket = (agent.status, int(agent.elapsed))
                busy[bucket] = busy.get(bucket, 0) + 1
        supply = [float(ready)] * n
        supply_var = [0.0] * n
        for (status, elapsed), count in busy.items():
            for i, q in enumerate(self._free_profile(status, elapsed, window)):
                supply[i] += count * q
                supply_var[i] += count * q * (1.0 - q)
        return arrivals, arrivals_var, supply, supply_var

    def _sync_cache(self) -> None:
        self.service.refresh()
        if self._cache_version != self.service.version:
            self._talk_cache.clear()
            self._wrap_cache.clear()
            self._cache_version = self.service.version

    def _free_profile(self, status: AgentStatus, elapsed: int, window: int) -> tuple[float, ...]:
        if status is AgentStatus.WRAPUP:
            cached = self._wrap_cache.get(elapsed)
            if cached is None:
                cached = tuple(
                    self.service.wrap_free_within(elapsed, u + window) for u in _SUPPLY_AT
                )
                self._wrap_cache[elapsed] = cached
            return cached
        # The talk hazard changes slowly once a call is past its first minute.
        key = elapsed if elapsed < 60 else elapsed - elapsed % 5
        cached = self._talk_cache.get(key)
        if cached is None:
            cached = tuple(self.service.talk_free_within(key, u + window) for u in _SUPPLY_AT)
            self._talk_cache[key] = cached
        return cached

    def _report(
        self,
        state: PacerState,
        launch: int,
        level: float,
        reason: str,
        risk: float = 0.0,
        staffed: int = 0,
    ) -> PacerDecision:
        log = self._log
        if state.mode is not DialMode.PREDICTIVE or log.mode is not state.mode:
            log.smoothed = level
        else:
            log.smoothed += (level - log.smoothed) / self.settings.level_smoothing
        rounded = round(log.smoothed, 2)
        step = max(self.settings.level_step, self.settings.level_step_ratio * log.level)
        changed = log.mode is not state.mode or abs(rounded - log.level) >= step
        if not reason:
            reason = self._explain(state, log, rounded, risk, staffed)
        if changed:
            log.level = rounded
            log.mode = state.mode
            log.staffed = staffed
            log.live_rate = self.answers.live_rate
            log.risk = risk
            if state.mode is DialMode.PREDICTIVE:
                reason = f"{reason}; dial level now {rounded:.2f}"
        return PacerDecision(launch, log.level, reason, changed)

    def _explain(
        self, state: PacerState, log: _LevelLog, level: float, risk: float, staffed: int
    ) -> str:
        live_rate = self.answers.live_rate
        direction = "up" if level >= log.level else "down"
        if log.mode is not DialMode.PREDICTIVE:
            driver = "predictive pacing started"
        elif log.staffed and abs(staffed - log.staffed) >= max(1, 0.1 * log.staffed):
            verb = "logged in" if staffed > log.staffed else "logged out"
            driver = f"agents {verb} ({log.staffed} -> {staffed})"
        elif log.live_rate and abs(live_rate - log.live_rate) >= 0.15 * log.live_rate:
            verb = "rose" if live_rate > log.live_rate else "fell"
            driver = f"answer rate {verb} ({log.live_rate:.1%} -> {live_rate:.1%})"
        elif log.risk and abs(risk - log.risk) >= 0.25 * log.risk:
            verb = "loosened" if risk > log.risk else "tightened"
            driver = f"abandon budget {verb} ({log.risk:.1%} -> {risk:.1%})"
        else:
            driver = f"agents freeing {'sooner' if direction == 'up' else 'later'} than before"
        return (
            f"{driver}; answer rate {live_rate:.1%}, {staffed} agents, "
            f"abandon today {state.today.rate:.2%} (cap {state.abandon_cap:.1%}), "
            f"risk budget {risk:.1%}"
        )

    def export_state(self) -> dict[str, Any]:
        """Learned distributions, JSON-ready, to warm-start after a restart."""
        return {"answers": self.answers.export(), "service": self.service.export()}

    def restore_state(self, data: dict[str, Any]) -> None:
        self.answers.restore(data["answers"])
        self.service.restore(data["service"])


def _staffed(state: PacerState) -> int:
    return sum(1 for a in state.agents if not a.logging_out and a.status is not AgentStatus.PAUSED)


def _ready(state: PacerState) -> int:
    return sum(1 for a in state.agents if a.status is AgentStatus.READY and not a.logging_out)


def _line_headroom(state: PacerState, staffed: int) -> int:
    """Calls that may still be launched under the lines-per-agent and trunk limits."""
    pending = len(state.calls_in_flight) + state.waiting_calls
    headroom = int(state.max_lines_per_agent * staffed) - pending
    if state.trunk_limit is not None:
        talking = sum(1 for a in state.agents if a.status is AgentStatus.TALKING)
        headroom = min(headroom, state.trunk_limit - pending - talking)
    return max(0, headroom)


def line_headroom(state: PacerState) -> int:
    """Public form of the line limits, for other pacing policies (e.g. benchmarks)."""
    return _line_headroom(state, _staffed(state))


def _running_sums(last: FloatArray, step: FloatArray, count: int) -> FloatArray:
    """Rows 0..count: `last`, then `step` added once more in each row (in
    order, as `+=` one at a time would: accumulate is not pairwise)."""
    steps = np.repeat(step[:, None, :], count, axis=1)
    return np.cumsum(np.concatenate([last[:, None, :], steps], axis=1), axis=1)


def _expected_abandons(
    arrivals: FloatArray,
    arrivals_var: FloatArray,
    supply: list[float],
    supply_var: list[float],
) -> FloatArray:
    """Expected live answers that find no agent, over the lookahead, for each
    row of `arrivals` (rows: calls launched; columns: lookahead intervals).

    An answer is abandoned when the answers before it that were not
    themselves abandoned outnumber the agents free by its deadline; each
    interval's answers get that probability from a normal approximation.
    Each row takes the same floating-point steps as one row alone would.
    """
    rows = arrivals.shape[0]
    abandoned = np.zeros(rows)
    before = np.zeros(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(arrivals.shape[1]):
            arrived = arrivals[:, i]
            new = arrived - before
            counted = new > 1e-9
            # Answers ahead of this one: earlier ones not abandoned, plus about
            # half of the others in the same interval.
            ahead = before + 0.5 * np.maximum(0.0, new - 1.0) - abandoned
            margin = ahead - supply[i] + 0.5
            variance = arrivals_var[:, i] + supply_var[i]
            certain = counted & (variance < 1e-12)
            abandoned = np.where(certain & (margin > 0.0), abandoned + new, abandoned)
            z = margin / np.sqrt(variance)
            spread = counted & ~certain & (z > -8.0)
            if spread.any():
                share = np.asarray(_erf(z[spread] / _SQRT2), dtype=np.float64)
                abandoned[spread] += new[spread] * 0.5 * (1.0 + share)
            before = arrived
    return abandoned
