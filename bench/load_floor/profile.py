"""The simulated carrier's answer/talk profile for the target attempt rate.

`callcenter dialer` runs the carrier's default profile (odds of each fate,
log-normal ring/talk/message times); its one knob is `--sim-time-scale`,
which shortens every carrier time (ring, ring timeout, talk, machine message)
by the same factor. The bench picks the factor so that 200 agents can absorb
the connects that `rate` attempts per second bring (the simulator has no
answering-machine detection, so machines are connected to agents too):

    rate * p_connect * (hold * scale + wrap) = agents * occupancy
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass

from dialer.simulated_carrier import Distribution, SimulationProfile


@dataclass(frozen=True)
class ProfilePlan:
    rate: float
    agents: int
    occupancy: float
    wrap_s: float
    ring_timeout_s: float
    scale: float
    p_connect: float
    hold_s: float  # mean customer-leg hold once connected, unscaled
    talk_median_s: float
    attempt_s: float  # mean attempt duration, unscaled
    max_calls: int

    def lines(self) -> list[str]:
        p = SimulationProfile()
        total = sum(weight for _, weight in p.fates())
        share = {name: weight / total for name, weight in p.fates()}
        s = self.scale
        connects = self.rate * self.p_connect
        busy = self.hold_s * s + self.wrap_s
        return [
            f"carrier: the dialer's simulated carrier, default odds, every time x {s:.3f} "
            f"(--sim-time-scale)",
            f"  answer {share['answer']:.0%}, machine {share['machine']:.0%} (connected to an "
            f"agent: no AMD), busy {share['busy']:.0%}, no answer {share['no_answer']:.0%}, "
            f"failed {share['failed']:.0%}",
            f"  ring median {p.ring_time.median_s * s:.2f} s, no answer rings the campaign's "
            f"{self.ring_timeout_s:.0f} s x {s:.3f} = {self.ring_timeout_s * s:.1f} s; "
            f"talk median {self.talk_median_s * s:.1f} s, "
            f"machine message median {p.machine_message.median_s * s:.1f} s",
            f"  at {self.rate:g} attempts/s: {connects:.1f} connects/s "
            f"(p_connect {self.p_connect:.3f}); an agent is busy {self.hold_s * s:.1f} s "
            f"on the line + {self.wrap_s:.1f} s wrap-up = {busy:.1f} s per connect",
            f"  {connects:.1f}/s x {busy:.1f} s = {connects * busy:.0f} busy agents = "
            f"{self.occupancy:.0%} of {self.agents}",
            f"  calls up at once (Little): {self.rate:g}/s x {self.attempt_s * s:.1f} s = "
            f"{self.rate * self.attempt_s * s:.0f}; trunk limit --max-calls {self.max_calls}",
        ]


def _mean(distribution: Distribution, rng: random.Random, n: int) -> float:
    return statistics.fmean(distribution.draw(rng) for _ in range(n))


def plan(
    *,
    rate: float,
    agents: int,
    ring_timeout_s: float,
    wrap_s: float,
    occupancy: float = 0.85,
    headroom: float = 1.3,
    samples: int = 100_000,
) -> ProfilePlan:
    profile = SimulationProfile()
    rng = random.Random(1)
    total = sum(weight for _, weight in profile.fates())
    share = {name: weight / total for name, weight in profile.fates()}
    rings = [profile.ring_time.draw(rng) for _ in range(samples)]
    answered_in_time = sum(1 for ring in rings if ring < ring_timeout_s) / samples
    ring_mean = statistics.fmean(ring for ring in rings if ring < ring_timeout_s)
    talk = _mean(profile.talk_time, rng, samples)
    message = _mean(profile.machine_message, rng, samples)
    live = share["answer"] + share["machine"]
    hold = (share["answer"] * talk + share["machine"] * message) / live
    p_connect = live * answered_in_time
    scale = (agents * occupancy / (rate * p_connect) - wrap_s) / hold
    if scale <= 0:
        raise SystemExit(f"{agents} agents cannot take {rate}/s with {wrap_s} s of wrap-up")
    scale = min(1.0, scale)
    setup = profile.setup_delay_s
    attempt = (
        (share["busy"] + share["failed"]) * setup
        + share["no_answer"] * (setup + ring_timeout_s)
        + share["answer"] * (setup + ring_mean + talk)
        + share["machine"] * (setup + ring_mean + message)
    )
    return ProfilePlan(
        rate=rate,
        agents=agents,
        occupancy=occupancy,
        wrap_s=wrap_s,
        ring_timeout_s=ring_timeout_s,
        scale=scale,
        p_connect=p_connect,
        hold_s=hold,
        talk_median_s=profile.talk_time.median_s,
        attempt_s=attempt,
        max_calls=math.ceil(rate * attempt * scale * headroom),
    )
