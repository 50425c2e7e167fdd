"""Coalesced pushes: keyed changes gathered per room and sent as one batched
event per room at most once per window.

A change on a quiet room goes out at once (leading edge); changes that come
within the window after a push wait for the next flush, where only the
latest payload per key is sent (a call that went dialing -> ringing ->
answered within the second is sent once, answered). Pushes a user acts on
(an abandon, a message to one agent) do not come here: they are emitted
directly.

The flush is scheduled with the Socket.IO server's own `start_background_task`
and `sleep`, so it is a thread under threading and a greenlet under gevent.

Every process (web, consume, dialer) emits `floor_delta` with one change;
the coalescing happens where the room's sockets are: in the Socket.IO client
manager of each web process (`callcenter.realtime.managers`), after the
Redis message queue, so the changes of all processes share one window.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

DELTA_EVENT = "floor_delta"
WINDOW_SECONDS = 1.0
CALLS = "calls"
AGENTS = "agents"
KINDS = (CALLS, AGENTS)
KEYS = {CALLS: "call_id", AGENTS: "agent_id"}  # what identifies a row of each kind

Emit = Callable[[str, Any, str], None]


def _is_final(kind: str, payload: Any) -> bool:
    """An ended call's row: no later row of that call replaces it in a window."""
    return kind == CALLS and isinstance(payload, dict) and payload.get("state") == "ended"


@dataclass
class _Room:
    pending: dict[str, dict[Hashable, Any]] = field(default_factory=dict)
    sent_at: float | None = None
    scheduled: bool = False


class Coalescer:
    """Collects `push(room, kind, key, payload)` and emits `{kind: [payload,
    ...]}` for every kind in `kinds` as one `event_name` per room."""

    def __init__(
        self,
        emit: Emit,
        *,
        start_background_task: Callable[..., Any],
        sleep: Callable[[float], Any],
        clock: Callable[[], float] = time.monotonic,
        window: float = WINDOW_SECONDS,
        event_name: str = DELTA_EVENT,
        kinds: tuple[str, ...] = KINDS,
    ) -> None:
        self._emit = emit
        self._start_background_task = start_background_task
        self._sleep = sleep
        self._clock = clock
        self.window = window
        self.event_name = event_name
        self.kinds = kinds
        self._lock = threading.Lock()
        self._rooms: dict[str, _Room] = {}

    def push(self, room: str, kind: str, key: Hashable, payload: Any) -> None:
        """Queue the latest `payload` of `key`; sent now if the room has been
        quiet for a window, else with the room's next flush."""
        if kind not in self.kinds:
            raise ValueError(f"unknown kind {kind!r}")
        with self._lock:
            state = self._rooms.setdefault(room, _Room())
            waiting = state.pending.setdefault(kind, {})
            if _is_final(kind, waiting.get(key)) and not _is_final(kind, payload):
                return  # a row sent by another process before the call ended came late
            waiting[key] = payload
            if state.scheduled:
                return
            now = self._clock()
            wait = 0.0 if state.sent_at is None else state.sent_at + self.window - now
            if wait > 0:
                state.scheduled = True
            else:
                batch = self._take(state, now)
        if wait > 0:
            self._start_background_task(self._flush_later, room, wait)
        else:
            self._send(room, batch)

    def emit_now(self, event_name: str, data: Any, room: str) -> None:
        """An immediate push (an abandon, a message): not coalesced."""
        self._emit(event_name, data, room)

    def flush(self, room: str) -> None:
        """Send what waits for `room` now (the scheduled flush does this)."""
        with self._lock:
            state = self._rooms.get(room)
            if state is None:
                return
            state.scheduled = False
            if not state.pending:
                return
            batch = self._take(state, self._clock())
        self._send(room, batch)

    def _flush_later(self, room: str, wait: float) -> None:
        self._sleep(wait)
        try:
            self.flush(room)
        except Exception:
            log.exception("coalesced push to %s failed", room)

    def _take(self, state: _Room, now: float) -> dict[str, list[Any]]:
        batch = {kind: list(state.pending.get(kind, {}).values()) for kind in self.kinds}
        state.pending = {}
        state.sent_at = now
        return batch

    def _send(self, room: str, batch: dict[str, list[Any]]) -> None:
        self._emit(self.event_name, batch, room)


def single_delta(kind: str, payload: Any) -> dict[str, list[Any]]:
    """One change as a delta: what a process emits; the web process that
    holds the room's sockets coalesces them (`CoalescingManager`)."""
    return {k: [payload] if k == kind else [] for k in KINDS}


def merge_delta(coalescer: Coalescer, room: str, delta: dict[str, list[Any]]) -> None:
    for kind, rows in delta.items():
        for row in rows:
            coalescer.push(room, kind, row[KEYS[kind]], row)
