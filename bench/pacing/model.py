"""Parameters of the simulated campaign and the benchmark scenarios."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class CallModel:
    """How called parties and agents behave; every field is a CLI flag."""

    machine_rate: float = 0.20
    amd_seconds: float = 3.0
    fail_share: float = 0.30
    fail_min: float = 1.0
    fail_max: float = 5.0
    ring_timeout: float = 20.0
    answer_mean: float = 8.0
    answer_sd: float = 4.0
    talk_mean: float = 180.0
    talk_sd: float = 180.0
    wrap_mean: float = 20.0
    wrap_sd: float = 10.0
    abandon_window: float = 2.0
    tick: float = 1.0
    lines_per_agent: float = 3.0
    trunk_limit: int = 0
    """Concurrent calls allowed on the trunk; 0 means unlimited."""
    hours: float = 8.0
    abandon_cap: float = 0.03


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    agents: int
    answer_rate: float
    min_occupancy: float
    """The bar for this scenario's occupancy (abandon must stay under the cap)."""
    change_hour: float | None = None
    answer_rate_after: float | None = None
    logout_agents: int = 0

    def answer_rate_at(self, hour: float) -> float:
        if self.change_hour is not None and hour >= self.change_hour:
            assert self.answer_rate_after is not None
            return self.answer_rate_after
        return self.answer_rate


OCCUPANCY_BAR = {(50, 0.30): 0.93, (50, 0.15): 0.92, (10, 0.30): 0.855, (10, 0.15): 0.83}


def default_scenarios(
    agents: tuple[int, ...] = (10, 50),
    answer_rates: tuple[float, ...] = (0.15, 0.30),
    change_hour: float = 4.0,
    logout_agents: int = 20,
) -> list[Scenario]:
    scenarios = [
        Scenario(f"N{n}-p{p:.2f}", n, p, OCCUPANCY_BAR.get((n, p), 0.0))
        for n in agents
        for p in answer_rates
    ]
    # A changing answer rate is held to the lower bar of the two cells it
    # crosses; the logout scenario to the bar of the 50-agent cell it starts in.
    scenarios.append(
        Scenario(
            "N50-p0.15to0.30",
            50,
            0.15,
            OCCUPANCY_BAR[(50, 0.15)],
            change_hour=change_hour,
            answer_rate_after=0.30,
        )
    )
    scenarios.append(
        Scenario(
            f"N50-{logout_agents}out-p0.30",
            50,
            0.30,
            OCCUPANCY_BAR[(50, 0.30)],
            change_hour=change_hour,
            answer_rate_after=0.30,
            logout_agents=logout_agents,
        )
    )
    return scenarios


@dataclass(frozen=True, slots=True)
class LogNormal:
    """A lognormal given by its mean and standard deviation, sampled by inversion
    so that each draw consumes exactly one uniform (common random numbers)."""

    mu: float
    sigma: float

    @classmethod
    def from_moments(cls, mean: float, sd: float) -> LogNormal:
        sigma2 = math.log(1.0 + (sd / mean) ** 2)
        return cls(math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2))

    def cdf(self, x: float) -> float:
        return _NORMAL.cdf((math.log(x) - self.mu) / self.sigma)

    def quantile(self, u: float) -> float:
        u = min(max(u, 1e-12), 1.0 - 1e-12)
        return math.exp(self.mu + self.sigma * _NORMAL.inv_cdf(u))
