"""Sockets outlive the page that opened them: every few seconds, the sockets
this process holds whose login was revoked (logout, idle timeout,
deactivation, a role change, a password reset) are closed, so a revoked
session stops receiving pushes too, not only sending events."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from callcenter.db import Database
from callcenter.services import accounts

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 5.0


class SessionSweep:
    def __init__(self, database: Database, disconnect: Callable[[str], None]) -> None:
        self._database = database
        self._disconnect = disconnect
        self._tokens: dict[str, str] = {}  # socket id -> login token
        self._lock = threading.Lock()

    def add(self, socket_id: str, token: str) -> None:
        with self._lock:
            self._tokens[socket_id] = token

    def remove(self, socket_id: str) -> None:
        with self._lock:
            self._tokens.pop(socket_id, None)

    def sweep(self) -> list[str]:
        """Close the sockets of revoked logins; the socket ids closed."""
        with self._lock:
            held = dict(self._tokens)
        if not held:
            return []
        with self._database.read_sessions() as session:
            revoked = accounts.revoked_among(session, set(held.values()))
        closed = [socket_id for socket_id, token in held.items() if token in revoked]
        for socket_id in closed:
            self.remove(socket_id)
            self._disconnect(socket_id)
        if closed:
            log.info("closed %d socket(s) of revoked logins", len(closed))
        return closed

    def run_forever(self, sleep: Callable[[float], None]) -> None:
        while True:
            sleep(SWEEP_INTERVAL_S)
            try:
                self.sweep()
            except Exception:  # the database may be away; the next sweep tries again
                log.warning("session sweep failed; trying again", exc_info=True)
