"""Distributions the predictive pacer learns from reported outcomes.

Both models are histograms with one-second bins whose observations are
weighted exponentially by recency (a half-life counted in observations), so
they follow a campaign whose answer rate or talk times drift. Each starts
from a deliberately pessimistic prior (a high answer rate, long talks) that
real observations quickly outweigh.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from dialer.pacing.state import CallOutcome, CallResult, ServiceRecord

_RENORMALISE_AT = 1e12
_TINY = 1e-12


class _DecayingHistogram:
    """Histograms sharing one recency weighting; the last bin is open-ended."""

    def __init__(self, size: int, names: Iterable[str], half_life: float) -> None:
        self.size = size
        self.bins = {name: [0.0] * size for name in names}
        self.growth = 2.0 ** (1.0 / half_life)
        self.weight = 1.0

    def add(self, name: str, seconds: float) -> None:
        index = min(max(int(seconds), 0), self.size - 1)
        self.bins[name][index] += self.weight
        self.weight *= self.growth
        if self.weight > _RENORMALISE_AT:
            for values in self.bins.values():
                values[:] = [v / self.weight for v in values]
            self.weight = 1.0

    def cumulative(self, name: str) -> list[float]:
        """cum[k] = weight of observations below k seconds, for k in 0..size."""
        cum = [0.0] * (self.size + 1)
        running = 0.0
        for k, value in enumerate(self.bins[name]):
            running += value
            cum[k + 1] = running
        return cum

    def export(self) -> dict[str, Any]:
        scale = self.weight
        return {name: [v / scale for v in values] for name, values in self.bins.items()}

    def restore(self, data: dict[str, list[float]]) -> None:
        for name, values in data.items():
            self.bins[name] = [float(v) for v in values[: self.size]]
        self.weight = 1.0


class AnswerModel:
    """When a dialled call turns into a live answer, given how long it has rung.

    Tracks the time to a live answer and the time to release for every other
    outcome; from them, the chance that a call aged `e` seconds is answered
    live within the next `u` seconds (its learned hazard).
    """

    HORIZON = 64

    def __init__(
        self,
        half_life_calls: float = 250.0,
        prior_calls: float = 30.0,
        prior_live_rate: float = 0.35,
    ) -> None:
        self._hist = _DecayingHistogram(self.HORIZON, ("live", "other"), half_life_calls)
        self._seed_prior(prior_calls, prior_live_rate)
        self._dirty = True
        self._cum_live: list[float] = []
        self._cum_all: list[float] = []

    def _seed_prior(self, calls: float, live_rate: float) -> None:
        # Live answers mostly between 3 and 20 s; other outcomes spread up to 30 s.
        live_shape = [max(0.0, 1.0 - abs(k - 8) / 12.0) if k >= 2 else 0.0 for k in range(22)]
        other_shape = [1.0 if 1 <= k <= 30 else 0.0 for k in range(31)]
        for name, shape, mass in (
            ("live", live_shape, calls * live_rate),
            ("other", other_shape, calls * (1.0 - live_rate)),
        ):
            total = sum(shape)
            for k, value in enumerate(shape):
                self._hist.bins[name][k] += mass * value / total

    def observe(self, outcome: CallOutcome) -> None:
        name = "live" if outcome.result is CallResult.LIVE else "other"
        self._hist.add(name, outcome.seconds)
        self._dirty = True

    def _refresh(self) -> None:
        if not self._dirty:
            return
        self._cum_live = self._hist.cumulative("live")
        cum_other = self._hist.cumulative("other")
        self._cum_all = [a + b for a, b in zip(self._cum_live, cum_other, strict=True)]
        self._dirty = False

    @property
    def live_rate(self) -> float:
        """Share of dialled calls answered live, recency weighted."""
        self._refresh()
        return self._cum_live[-1] / max(self._cum_all[-1], _TINY)

    def live_within(self, elapsed: int, ahead: int) -> float:
        """P(a call still ringing after `elapsed` s is answered live in `ahead` s)."""
        self._refresh()
        start = min(elapsed, self.HORIZON)
        end = min(elapsed + ahead, self.HORIZON)
        alive = self._cum_all[-1] - self._cum_all[start]
        if alive <= _TINY:
            return 0.0
        return (self._cum_live[end] - self._cum_live[start]) / alive

    def live_profile(self, elapsed: int, lookahead: tuple[int, ...]) -> list[float]:
        """live_within(elapsed, u) for every u of `lookahead`, in one pass."""
        self._refresh()
        horizon = self.HORIZON
        start = min(elapsed, horizon)
        cum_live = self._cum_live
        alive = self._cum_all[-1] - self._cum_all[start]
        if alive <= _TINY:
            return [0.0] * len(lookahead)
        base = cum_live[start]
        return [(cum_live[min(start + u, horizon)] - base) / alive for u in lookahead]

    def export(self) -> dict[str, Any]:
        return self._hist.export()

    def restore(self, data: dict[str, list[float]]) -> None:
        self._hist.restore(data)
        self._dirty = True


class ServiceModel:
    """How long agents talk and wrap up, and so when a busy agent will be free."""

    TALK_HORIZON = 3600
    WRAP_HORIZON = 600

    def __init__(
        self,
        half_life_services: float = 1500.0,
        prior_services: float = 10.0,
        prior_talk_mean: float = 240.0,
        prior_wrap_max: float = 60.0,
    ) -> None:
        self._talk = _DecayingHistogram(self.TALK_HORIZON + 1, ("talk",), half_life_services)
        self._wrap = _DecayingHistogram(self.WRAP_HORIZON + 1, ("wrap",), half_life_services)
        self._seed_prior(prior_services, prior_talk_mean, prior_wrap_max)
        self.version = 0
        self._pending = 0
        self._cum_talk: list[float] = []
        self._cum_wrap: list[float] = []
        self._wrap_below_half: list[float] = []

    def _seed_prior(self, services: float, talk_mean: float, wrap_max: float) -> None:
        talk = self._talk.bins["talk"]
        for k in range(self.TALK_HORIZON):
            talk[k] += services * (math.exp(-k / talk_mean) - math.exp(-(k + 1) / talk_mean))
        talk[self.TALK_HORIZON] += services * math.exp(-self.TALK_HORIZON / talk_mean)
        wrap = self._wrap.bins["wrap"]
        low, high = 3, int(wrap_max)
        for k in range(low, high):
            wrap[k] += services / (high - low)

    def observe(self, record: ServiceRecord) -> None:
        self._talk.add("talk", record.talk_seconds)
        self._wrap.add("wrap", record.wrap_seconds)
        self._pending += 1

    def refresh(self, min_new: int = 25) -> None:
        """Rebuild the cumulative tables once `min_new` services arrived since.

        Batching keeps the conditional tables (and callers' caches keyed on
        `version`) stable between rebuilds.
        """
        if self._pending < min_new and self.version:
            return
        self._cum_talk = self._talk.cumulative("talk")
        self._cum_wrap = self._wrap.cumulative("wrap")
        total = self._cum_wrap[-1]
        # _wrap_below_half[k] = P(wrap-up < k - 0.5 s): a talk ending in the
        # middle of a one-second bin leaves that much time for the wrap-up.
        self._wrap_below_half = [0.0] + [
            (self._cum_wrap[k - 1] + self._cum_wrap[k]) / (2.0 * total)
            for k in range(1, self.WRAP_HORIZON + 1)
        ]
        self._pending = 0
        self.version += 1

    def wrap_free_within(self, elapsed: int, ahead: int) -> float:
        """P(an agent `elapsed` s into wrap-up is free within `ahead` s)."""
        cum = self._cum_wrap
        start = min(elapsed, self.WRAP_HORIZON)
        end = min(elapsed + ahead, self.WRAP_HORIZON + 1)
        alive = cum[-1] - cum[start]
        if alive <= _TINY:
            return 1.0
        return (cum[end] - cum[start]) / alive

    def talk_free_within(self, elapsed: int, ahead: int) -> float:
        """P(an agent `elapsed` s into a call has also wrapped up within `ahead` s)."""
        cum = self._cum_talk
        start = min(elapsed, self.TALK_HORIZON - 1)
        alive = cum[-1] - cum[start]
        if alive <= _TINY:
            return 0.0
        wrap_below = self._wrap_below_half
        last = min(ahead, self.TALK_HORIZON - start, self.WRAP_HORIZON)
        total = 0.0
        for step in range(last):
            index = start + step
            total += (cum[index + 1] - cum[index]) * wrap_below[ahead - step]
        return total / alive

    def export(self) -> dict[str, Any]:
        return {"talk": self._talk.export()["talk"], "wrap": self._wrap.export()["wrap"]}

    def restore(self, data: dict[str, list[float]]) -> None:
        self._talk.restore({"talk": data["talk"]})
        self._wrap.restore({"wrap": data["wrap"]})
        self.refresh(min_new=0)
