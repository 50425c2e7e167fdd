"""Sockets outlive the page that opened them: every few seconds, the sockets
this process holds whose login was revoked (logout, idle timeout,
deactivation, a role change, a password reset) are closed, so a revoked
session stops receiving pushes too, not only sending events; and, every
minute, the users held for the others are compared with their rows
(`socket_users`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from callcenter.db import Database
from callcenter.realtime.socket_users import SocketUsers
from callcenter.services import accounts

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 5.0
REFRESH_EVERY = 12
"""Every 12th sweep (a minute) reads the held users' rows too, not only
their logins: what a lost message left stale (a name, a team, a locale)."""


class SessionSweep:
    def __init__(
        self, database: Database, held: SocketUsers, disconnect: Callable[[str], None]
    ) -> None:
        self._database = database
        self._held = held
        self._disconnect = disconnect
        self._sweeps = 0

    def sweep(self, *, refresh: bool | None = None) -> list[str]:
        """Close the sockets of revoked logins (and of deactivated users); the
        socket ids closed. `refresh` (every `REFRESH_EVERY`th sweep unless
        told): forget the held users whose rows changed too."""
        self._sweeps += 1
        if refresh is None:
            refresh = self._sweeps % REFRESH_EVERY == 0
        held = self._held.tokens()
        if not held:
            return []
        with self._database.read_sessions() as session:
            if refresh:
                users = accounts.users_of_live_logins(session, set(held.values()))
                self._held.refresh(users)
                live = set(users)
            else:
                live = accounts.live_logins(session, set(held.values()))
        closed = [socket_id for socket_id, token in held.items() if token not in live]
        for socket_id in closed:
            self._held.release(socket_id)
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
