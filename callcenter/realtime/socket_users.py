"""The user behind each socket this process holds.

A socket's connect checks its login against the database
(`accounts.signed_in_user`, the user joined to the login's live token) and
the user's row is kept here; the socket's later events take their user from
here, with no statement. What keeps it true:

- A commit that changes a user's row (but for the activity time a socket
  event writes) or ends one of their logins forgets the user in this process
  at once and, through the Socket.IO queue, in every other web process
  (`forget_users` on the client manager). Their next event checks the
  database again, where a revoked login is refused.
- The session sweep closes the sockets of revoked logins and deactivated
  users every 5 s, and every minute reads the held users' rows afresh and
  forgets those that differ: a message lost with a Redis outage, or a change
  made outside the app, holds for 5 s at most for a revocation, a minute for
  anything else.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached, object_session
from sqlalchemy.orm.util import identity_key

from callcenter import after_commit
from callcenter.after_commit import Outlet
from callcenter.models import User, UserSession

FORGET_METHOD = "forget_users"
"""The Socket.IO queue's message that tells every web process to forget users."""

USER_COLUMNS: tuple[str, ...] = tuple(column.key for column in User.__table__.columns)
"""As the sweep reads them (`accounts.users_of_live_logins`); each is its attribute's name."""
_ACTIVITY = "last_active_at"


@dataclass
class HeldSocket:
    token: str
    user: dict[str, Any] | None  # the user's columns; None: check the database


class SocketUsers:
    def __init__(self) -> None:
        self._held: dict[str, HeldSocket] = {}
        self._lock = threading.Lock()

    def hold(self, socket_id: str, token: str, user: User) -> None:
        """A socket whose login was just checked: `user` as loaded."""
        with self._lock:
            self._held[socket_id] = HeldSocket(token, _columns_of(user))

    def release(self, socket_id: str) -> None:
        with self._lock:
            self._held.pop(socket_id, None)

    def user(
        self, session: Session, socket_id: str, user_id: int, token: str | None
    ) -> User | None:
        """The socket's user, in `session` as if read there; None when it is
        not held (a new socket, a forgotten user): ask the database."""
        with self._lock:  # `forget` and `refresh` drop a held row from other threads
            held = self._held.get(socket_id)
            columns = held.user if held is not None and held.token == token else None
        if columns is None or columns["id"] != user_id:
            return None
        in_session = session.identity_map.get(identity_key(User, user_id))
        if in_session is not None:
            return in_session
        user = User(**columns)
        make_transient_to_detached(user)
        session.add(user)
        return user

    def checked_again(self, socket_id: str, token: str | None, user: User) -> None:
        """A held socket's login checked in the database after it was forgotten."""
        with self._lock:
            held = self._held.get(socket_id)
            if held is not None and held.token == token:
                held.user = _columns_of(user)

    def forget(self, user_ids: Collection[int]) -> None:
        with self._lock:
            for held in self._held.values():
                if held.user is not None and held.user["id"] in user_ids:
                    held.user = None

    def were_active(self, activity: Mapping[int, datetime]) -> None:
        """Users' activity times written here: what their sockets compare the next with."""
        with self._lock:
            for held in self._held.values():
                if held.user is not None and held.user["id"] in activity:
                    held.user[_ACTIVITY] = activity[held.user["id"]]

    def tokens(self) -> dict[str, str]:
        """Socket id -> login token, of every socket held."""
        with self._lock:
            return {socket_id: held.token for socket_id, held in self._held.items()}

    def refresh(self, users_by_token: Mapping[str, Mapping[str, Any]]) -> None:
        """The sweep's fresh rows: a held row that differs from its user's is
        forgotten (what a socket writes itself, its activity, aside)."""
        with self._lock:
            for held in self._held.values():
                fresh = users_by_token.get(held.token)
                if held.user is not None and (fresh is None or _differ(held.user, fresh)):
                    held.user = None


def _columns_of(user: User) -> dict[str, Any]:
    return {key: getattr(user, key) for key in USER_COLUMNS}


def _differ(held: Mapping[str, Any], fresh: Mapping[str, Any]) -> bool:
    return any(held[key] != fresh[key] for key in USER_COLUMNS if key != _ACTIVITY)


# What leaves a commit: ("forget", user id) or ("active", user id, when).
Change = tuple[Any, ...]


def forget_after_commit(session: Session, user_id: int) -> None:
    after_commit.defer(session, Outlet.USER_CHANGES, ("forget", user_id))


def _send_changes(session: Session, changes: Sequence[Change]) -> None:
    manager = _client_manager(session)
    if manager is None:
        return
    forgotten = {change[1] for change in changes if change[0] == "forget"}
    activity = {change[1]: change[2] for change in changes if change[0] == "active"}
    held: SocketUsers | None = getattr(manager, "held_users", None)
    if held is not None and activity:
        held.were_active(activity)
    if forgotten:
        manager.forget_users(forgotten)


def _client_manager(session: Session) -> Any:
    from callcenter.realtime import BROADCASTER

    broadcaster = session.info.get(BROADCASTER)
    manager = getattr(getattr(broadcaster, "server", None), "manager", None)
    return manager if hasattr(manager, "forget_users") else None


after_commit.deliver_with(Outlet.USER_CHANGES, _send_changes)


@event.listens_for(User, "after_update")
def _user_updated(_mapper: Mapper[User], _connection: Any, user: User) -> None:
    session = object_session(user)
    if session is None:
        return
    state = inspect(user)
    changed = [key for key in USER_COLUMNS if state.attrs[key].history.has_changes()]
    if any(key != _ACTIVITY for key in changed):
        forget_after_commit(session, user.id)
    elif changed and user.last_active_at is not None:
        after_commit.defer(session, Outlet.USER_CHANGES, ("active", user.id, user.last_active_at))


@event.listens_for(User, "after_delete")
def _user_deleted(_mapper: Mapper[User], _connection: Any, user: User) -> None:
    session = object_session(user)
    if session is not None:
        forget_after_commit(session, user.id)


@event.listens_for(UserSession, "after_update")
def _login_updated(_mapper: Mapper[UserSession], _connection: Any, login: UserSession) -> None:
    session = object_session(login)
    if session is not None and inspect(login).attrs.revoked_at.history.has_changes():
        forget_after_commit(session, login.user_id)
