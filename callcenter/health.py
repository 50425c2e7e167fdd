"""Liveness and readiness, the same answers for every process kind.

Liveness says the process is not wedged: the web process is alive while it
answers at all; a process with a main loop (the dialer's tick, the consumer's
heartbeat) is alive while that loop has beaten within `stale_after_s`. A
supervisor restarts a process that stops being alive.

Readiness says the process can do its work now: every named check passes
(database reachable, Redis reachable, the dialer's carrier started). A
process that is not ready answers 503 with the reasons, and recovers by
itself when what it depends on comes back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from callcenter.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One readiness condition: `passes()` is true when it holds, and
    `failure` is the reason given when it does not."""

    name: str
    passes: Callable[[], bool]
    failure: str


@dataclass(frozen=True)
class HealthAnswer:
    ok: bool
    body: dict[str, Any]

    @property
    def status_code(self) -> int:
        return 200 if self.ok else 503


def database_check(database: Database) -> Check:
    def reachable() -> bool:
        try:
            database.ping()
        except SQLAlchemyError as exc:
            log.warning("readiness: database unreachable (%s)", exc.__class__.__name__)
            return False
        return True

    return Check("database", reachable, "database unreachable")


def bus_check(bus: Any, *, redis: bool) -> Check:
    """Redis reachable when the bus is the Redis stream; otherwise the
    in-process bus's worker thread running."""
    if redis:
        return Check("redis", bus.ping, "Redis unreachable")
    return Check("event_bus", bus.ping, "in-process event bus not running")


def readiness(checks: Sequence[Check]) -> HealthAnswer:
    results = {check.name: check.passes() for check in checks}
    reasons = [check.failure for check in checks if not results[check.name]]
    body: dict[str, Any] = {"status": "ready" if not reasons else "unavailable", "checks": results}
    if reasons:
        body["reason"] = "; ".join(reasons)
    return HealthAnswer(not reasons, body)


class MainLoopHealth:
    """Health of a process that has a main loop and no web app: alive while
    the loop beats (`beat()` from the loop, or a `last_beat` source giving
    the `time.monotonic()` of the last beat), ready while the checks pass."""

    def __init__(
        self,
        checks: Sequence[Check],
        *,
        stale_after_s: float,
        last_beat: Callable[[], float | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.checks = list(checks)
        self.stale_after_s = stale_after_s
        self._beaten_at: float | None = None
        self._last_beat = last_beat or (lambda: self._beaten_at)
        self._clock = clock
        self._started_at = clock()

    def beat(self) -> None:
        self._beaten_at = self._clock()

    def liveness(self) -> HealthAnswer:
        beaten_at = self._last_beat()
        since = self._clock() - (self._started_at if beaten_at is None else beaten_at)
        alive = since <= self.stale_after_s
        body: dict[str, Any] = {
            "status": "alive" if alive else "stalled",
            "seconds_since_last_beat": None if beaten_at is None else round(since, 3),
        }
        if not alive:
            body["reason"] = f"main loop has not run for {since:.0f} s"
        return HealthAnswer(alive, body)

    def readiness(self) -> HealthAnswer:
        return readiness(self.checks)
