"""The trunk's limit on new customer calls a second (carriers refuse call
setups above their CPS limit with 503/403, and those calls are lost).

A token bucket: `per_second` tokens come in each second, at most one second's
worth are kept (the burst), each customer call placed takes one. The pacer
asks `room()` before it claims leads, so it never claims one it cannot dial
now; a call an agent asked for is placed whatever the room and taken all the
same (the bucket goes into debt, and the pacer places that many fewer next)."""

from __future__ import annotations

import math
from collections.abc import Callable


class CallRate:
    def __init__(self, per_second: float, *, clock: Callable[[], float]) -> None:
        """`per_second` 0: no limit. `clock`: monotonic seconds, read only when
        the bucket is used (the worker's is its running loop's)."""
        if not 0 <= per_second < math.inf:
            raise ValueError(f"calls a second must be 0 (no limit) or more, not {per_second}")
        self.per_second = per_second
        self.clock = clock
        self.burst = max(1.0, per_second)
        self._tokens = self.burst
        self._at: float | None = None

    @property
    def limited(self) -> bool:
        return self.per_second > 0

    def room(self) -> int | None:
        """Calls that may start now (None: no limit)."""
        if not self.limited:
            return None
        self._refill()
        # A whole token short by a rounding error is a whole token.
        return max(0, math.floor(self._tokens + 1e-9))

    def take(self) -> None:
        """A customer call has been placed."""
        if self.limited:
            self._refill()
            self._tokens -= 1

    def _refill(self) -> None:
        now = self.clock()
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_second)
        self._at = now
