"""Baseline pacing policies the predictive pacer is measured against.

`FixedRatio` keeps a constant number of calls ringing per ready agent.
`RatioDialer` places calls the way VICIdial's AST_VDauto_dial.pl does for a
given dial level: goal = round(level x (ready + in-call agents)), minus the
calls already up (ringing, queued and connected). `VicidialAdapt` drives it
with a port of the ADAPT_AVERAGE / ADAPT_TAPERED level adjustment of
AST_VDadapt.pl (build 230309): every second it samples
ready agents, queued live calls and logged-in agents, keeping 15 samples;
every 60 s it recounts today's and the last minute's calls, answers and
drops; every 15 s it scales the level by 1 + (avg ready - avg waiting) /
avg agents, caps it at the maximum level, halves it if more than half of the
last minute's calls dropped, and when today's drops exceed the target share
of answers halves it (AVERAGE) or scales it by (latest HHMM - now HHMM) /
1000, at most 1 (TAPERED); the level never goes below 1.
"""

from __future__ import annotations

from collections import deque

from dialer.pacing.pacer import line_headroom
from dialer.pacing.state import AgentStatus, PacerDecision, PacerState


class RatioDialer:
    def __init__(self, level: float) -> None:
        self.level = level
        self._reported: float | None = None

    def launches(self, state: PacerState) -> int:
        ready = sum(1 for a in state.agents if a.status is AgentStatus.READY)
        talking = sum(1 for a in state.agents if a.status is AgentStatus.TALKING)
        goal = round(self.level * (ready + talking))
        existing = len(state.calls_in_flight) + state.waiting_calls + talking
        return max(0, min(goal - existing, line_headroom(state)))

    def report(self, launch: int, reason: str) -> PacerDecision:
        changed = self._reported != self.level
        self._reported = self.level
        return PacerDecision(launch, self.level, reason, changed)


class FixedRatio:
    """Keeps `ratio` calls ringing (or queued) per ready agent."""

    def __init__(self, ratio: float) -> None:
        self.ratio = ratio
        self._reported = False

    def decide(self, state: PacerState) -> PacerDecision:
        ready = sum(1 for a in state.agents if a.status is AgentStatus.READY)
        pending = len(state.calls_in_flight) + state.waiting_calls
        launch = max(0, min(round(self.ratio * ready) - pending, line_headroom(state)))
        changed, self._reported = not self._reported, True
        return PacerDecision(launch, self.ratio, "fixed calls per ready agent", changed)


class VicidialAdapt:
    """AST_VDadapt.pl's adaptive dial level driving RatioDialer, one loop per tick."""

    SAMPLES = 15
    LEVEL_EVERY = 15
    DROPS_EVERY = 60

    def __init__(
        self,
        method: str = "ADAPT_AVERAGE",
        dropped_percentage: float = 3.0,
        maximum_level: float = 3.0,
        intensity: float = 0.0,
        dl_diff_target: float = 0.0,
        latest_server_time: int = 2100,
        start_hourmin: int = 900,
        tick_seconds: float = 1.0,
        initial_level: float = 1.0,
    ) -> None:
        if method not in ("ADAPT_AVERAGE", "ADAPT_TAPERED"):
            raise ValueError(f"unsupported VICIdial adapt method {method!r}")
        self.method = method
        self.dropped_percentage = dropped_percentage
        self.maximum_level = maximum_level
        self.intensity = intensity
        self.dl_diff_target = dl_diff_target
        self.latest_server_time = latest_server_time
        self.start_hourmin = start_hourmin
        self.tick_seconds = tick_seconds
        self._dialer = RatioDialer(initial_level)
        self._samples: deque[tuple[int, int, int]] = deque(maxlen=self.SAMPLES)
        self._diff_ratio_updater = 0.0
        self._drop_count_updater = 61.0
        self._loops = 0
        self._calls_today = 0
        self._recent: deque[tuple[float, int, int]] = deque()
        self._drops: tuple[int, float, int, float] = (0, 0.0, 0, 0.0)
        self._note = "initial dial level"

    def decide(self, state: PacerState) -> PacerDecision:
        now = self._loops * self.tick_seconds
        self._loops += 1
        self._calls_today += len(state.outcomes)
        self._recent.append((now, self._calls_today, state.today.abandoned))
        while self._recent and self._recent[0][0] < now - 60.0:
            self._recent.popleft()
        ready = sum(1 for a in state.agents if a.status is AgentStatus.READY)
        self._samples.append((ready, state.waiting_calls, len(state.agents)))
        total_avg = sum(s[2] for s in self._samples) / len(self._samples)
        if total_avg > 0:
            if self._drop_count_updater >= self.DROPS_EVERY:
                self._calculate_drops(state)
                self._drop_count_updater = 0.0
            if self._diff_ratio_updater >= self.LEVEL_EVERY:
                self._calculate_dial_level(now, total_avg)
                self._diff_ratio_updater = 0.0
        self._diff_ratio_updater += self.tick_seconds
        self._drop_count_updater += self.tick_seconds
        return self._dialer.report(self._dialer.launches(state), self._note)

    def _calculate_drops(self, state: PacerState) -> None:
        _, calls_minute_ago, drops_minute_ago = self._recent[0]
        calls_one = self._calls_today - calls_minute_ago
        drops_one = state.today.abandoned - drops_minute_ago
        drops_one_pct = 100.0 * drops_one / calls_one if calls_one and drops_one else 0.0
        drops_today = state.today.abandoned
        answers_today = max(state.today.live_answers, 1)
        today_pct = 100.0 * drops_today / answers_today if drops_today else 0.0
        self._drops = (calls_one, drops_one_pct, self._calls_today, today_pct)

    def _calculate_dial_level(self, now: float, total_avg: float) -> None:
        count = len(self._samples)
        differential = (
            sum(s[0] for s in self._samples) / count - sum(s[1] for s in self._samples) / count
        )
        target = differential + self.dl_diff_target
        multiplier = target / total_avg if target and total_avg else 0.0
        intensity = self.intensity / 100.0
        if multiplier < 0:
            multiplier *= abs(intensity - 1.0)
        else:
            multiplier *= intensity + 1.0
        old = self._dialer.level
        level = round(old * (multiplier + 1.0), 3)
        note = f"differential {differential:+.2f} over {total_avg:.1f} agents"
        level = min(level, self.maximum_level)
        level = max(level, 1.0)
        calls_one, drops_one_pct, calls_today, today_pct = self._drops
        if calls_one > 20 and drops_one_pct > 50:
            level /= 2
            note += "; over 50% dropped in the last minute: halved"
        if calls_today > 50 and today_pct > self.dropped_percentage:
            if self.method == "ADAPT_AVERAGE":
                level /= 2
                note += f"; drops today {today_pct:.2f}% over target: halved"
            else:
                hours_left = self.latest_server_time - self._hourmin(now)
                if hours_left < 0:
                    level = 1.0
                else:
                    level *= 1.0 if hours_left > 1000 else hours_left / 1000
                note += f"; drops today {today_pct:.2f}% over target: tapered"
        self._dialer.level = max(level, 1.0)
        if self._dialer.level != old:
            self._note = note

    def _hourmin(self, now: float) -> int:
        """Server clock as VICIdial's HHMM integer (its arithmetic is on these)."""
        start_minutes = self.start_hourmin // 100 * 60 + self.start_hourmin % 100
        minutes = start_minutes + int(now // 60)
        return (minutes // 60) % 24 * 100 + minutes % 60
