"""Liveness of a process with a main loop, and readiness from named checks."""

from __future__ import annotations

from callcenter.health import Check, MainLoopHealth, readiness


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_alive_while_the_loop_beats_with_a_grace_period_before_the_first_beat() -> None:
    clock = Clock()
    health = MainLoopHealth([], stale_after_s=5, clock=clock)
    clock.now += 4
    assert health.liveness().ok  # still starting
    clock.now += 2
    answer = health.liveness()
    assert not answer.ok and answer.status_code == 503
    assert answer.body["status"] == "stalled" and answer.body["seconds_since_last_beat"] is None

    health.beat()
    clock.now += 5
    assert health.liveness().ok
    assert health.liveness().body == {"status": "alive", "seconds_since_last_beat": 5.0}
    clock.now += 0.5
    assert health.liveness().body["reason"] == "main loop has not run for 6 s"


def test_liveness_can_follow_a_beat_kept_elsewhere() -> None:
    clock = Clock()
    ticked_at: list[float | None] = [None]
    health = MainLoopHealth([], stale_after_s=1, last_beat=lambda: ticked_at[0], clock=clock)
    clock.now += 2
    assert not health.liveness().ok
    ticked_at[0] = clock.now
    assert health.liveness().ok


def test_readiness_names_every_failed_check() -> None:
    answer = readiness(
        [
            Check("database", lambda: False, "database unreachable"),
            Check("redis", lambda: True, "Redis unreachable"),
            Check("carrier", lambda: False, "carrier not started"),
        ]
    )
    assert answer.status_code == 503
    assert answer.body == {
        "status": "unavailable",
        "checks": {"database": False, "redis": True, "carrier": False},
        "reason": "database unreachable; carrier not started",
    }
    assert readiness([Check("redis", lambda: True, "-")]).body == {
        "status": "ready",
        "checks": {"redis": True},
    }
