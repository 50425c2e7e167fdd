"""Users: log-in with lockout, and the admin's operations on accounts."""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from callcenter.db import utcnow
from callcenter.errors import N_, Conflict, DomainError, InvalidInput, NotFound
from callcenter.leadfiles import InvalidPhone, normalize_phone
from callcenter.models import AgentStatus, Team, User, UserSession
from callcenter.services import audit, wrap_ups
from callcenter.states import AgentState, Role

log = logging.getLogger(__name__)
SUPPORTED_LOCALES = ("fa", "en")


class LoginRefused(DomainError):
    status = 401
    error_id = "login-refused"


@dataclass(frozen=True)
class LockoutPolicy:
    max_failed_logins: int = 5
    lockout_minutes: int = 15


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    policy: LockoutPolicy,
    ip_address: str | None = None,
) -> User:
    """Return the user, or raise LoginRefused with a message safe to show.
    The same message for unknown users and wrong passwords."""
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    now = utcnow()
    if user is None:
        # As long as a real user's check, so timing does not tell who exists;
        # what was typed is not kept (a password typed in the wrong field).
        verify_password(_unknown_user_hash(), password)
        audit.record(
            session,
            "login.failed",
            actor=None,
            details={"unknown_user": hashlib.sha256(username.encode()).hexdigest()[:16]},
            ip_address=ip_address,
        )
        raise LoginRefused(N_("wrong username or password"))
    if user.locked_until is not None and user.locked_until > now:
        verify_password(user.password_hash, password)
        audit.record(session, "login.locked", actor=user, ip_address=ip_address)
        raise LoginRefused(N_("wrong username or password"))
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= policy.max_failed_logins:
            user.locked_until = now + timedelta(minutes=policy.lockout_minutes)
            user.failed_logins = 0
        audit.record(session, "login.failed", actor=user, ip_address=ip_address)
        raise LoginRefused(N_("wrong username or password"))
    if not user.is_active:
        audit.record(session, "login.inactive", actor=user, ip_address=ip_address)
        raise LoginRefused(N_("this account is deactivated"))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(session, "login", actor=user, ip_address=ip_address)
    return user


@functools.cache
def _unknown_user_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def record_logout(
    session: Session, user: User, *, token: str | None = None, ip_address: str | None = None
) -> None:
    """The session is over (its token revoked, so a copied cookie dies with
    it): an agent leaves the queue too (never Ready with nobody there)."""
    audit.record(session, "logout", actor=user, ip_address=ip_address)
    if token is not None:
        revoke_session(session, token, because="logout")
    if user.role is Role.AGENT:
        _off_the_floor(session, user)


def start_session(session: Session, user: User, *, ip_address: str | None = None) -> str:
    """A new login's token, for the cookie; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_token_hash(token), user_id=user.id, ip_address=ip_address))
    return token


_SIGNED_IN_USER = (
    select(User)
    .join(UserSession, UserSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        User.is_active.is_(True),
        UserSession.token_hash == bindparam("token_hash"),
        UserSession.revoked_at.is_(None),
    )
)
"""Built once, not per ask (its cache key is kept with it): building it cost
more than running it."""


def signed_in_user(session: Session, user_id: int, token: str | None) -> User | None:
    """The active user whose login this token is, while it is not revoked; one
    statement, as every page and a socket's connect ask it."""
    if not token:
        return None
    return session.scalar(_SIGNED_IN_USER, {"user_id": user_id, "token_hash": _token_hash(token)})


def revoke_session(session: Session, token: str, *, because: str) -> None:
    row = session.get(UserSession, _token_hash(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        row.revoked_because = because


def revoke_all_sessions(session: Session, user_id: int, *, because: str) -> int:
    """Every open session of the user ends (deactivated, role changed,
    password reset): their cookies stop working and their sockets close."""
    rows = session.scalars(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for row in rows:
        row.revoked_at, row.revoked_because = now, because
    return len(rows)


def live_logins(session: Session, tokens: Collection[str]) -> set[str]:
    """Of these tokens (the sockets a web process holds), the ones still
    live: not revoked, their user active."""
    by_hash = _by_hash(tokens)
    live = session.scalars(
        select(UserSession.token_hash)
        .join(User, User.id == UserSession.user_id)
        .where(*_live_among(by_hash))
    )
    return {by_hash[digest] for digest in live}


_LIVE_LOGINS_USERS = select(
    UserSession.token_hash.label("cc_token_hash"), cast(Table, User.__table__)
).join(User, User.id == UserSession.user_id)


def users_of_live_logins(session: Session, tokens: Collection[str]) -> dict[str, dict[str, Any]]:
    """`live_logins`, each with its user's columns as they are now."""
    by_hash = _by_hash(tokens)
    rows = session.execute(_LIVE_LOGINS_USERS.where(*_live_among(by_hash))).mappings()
    return {
        by_hash[row["cc_token_hash"]]: {
            key: value for key, value in row.items() if key != "cc_token_hash"
        }
        for row in rows
    }


def _by_hash(tokens: Collection[str]) -> dict[str, str]:
    return {_token_hash(token): token for token in tokens}


def _live_among(by_hash: dict[str, str]) -> tuple[ColumnElement[bool], ...]:
    return (
        UserSession.token_hash.in_(list(by_hash)),
        UserSession.revoked_at.is_(None),
        User.is_active.is_(True),
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


ACTIVITY_STEP = timedelta(seconds=60)
"""last_active_at is written at most this often (every socket event would be a write)."""
_BUSY_STATES = frozenset({AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP})


def touch(session: Session, user_id: int, *, now: datetime | None = None) -> None:
    """The user did something (a page, a Socket.IO event): not idle."""
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is not None and (
        user.last_active_at is None or now - user.last_active_at >= ACTIVITY_STEP
    ):
        user.last_active_at = now


def idle_too_long(
    session: Session,
    user_id: int,
    *,
    last_page_at: datetime | None,
    limit: timedelta,
    now: datetime | None = None,
) -> bool:
    """Idle past `limit` by both its pages and its socket events; an agent
    with a call (reserved, talking, wrapping up) is never idle."""
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None:
        return True
    seen = [at for at in (last_page_at, user.last_active_at) if at is not None]
    if not seen or now - max(seen) <= limit:
        return False
    status = session.get(AgentStatus, user_id)
    return status is None or status.state not in _BUSY_STATES


class LastAdmin(Conflict):
    error_id = "last-admin"


def _keep_an_admin(session: Session, user: User, verb: str) -> None:
    others = session.scalar(
        select(func.count(User.id)).where(
            User.role == Role.ADMIN, User.is_active.is_(True), User.id != user.id
        )
    )
    if not others:
        # One sentence per verb: Persian conjugates the verb, it cannot be slotted in.
        refusal = {
            "demote": N_(
                "you cannot demote the last active administrator: make another user "
                "an administrator first"
            ),
            "deactivate": N_(
                "you cannot deactivate the last active administrator: make another user "
                "an administrator first"
            ),
        }[verb]
        raise LastAdmin(refusal, details={"user_id": user.id})


def _off_the_floor(session: Session, user: User) -> None:
    if session.get(AgentStatus, user.id) is not None:
        wrap_ups.end_agent_session(session, user.id)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("no such user"), details={"user_id": user_id})
    return user


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(
            N_("no user named '%(username)s'"), details={"username": username}, username=username
        )
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.username)))


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))


def get_or_create_team(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.name == name))
    if team is None:
        team = Team(name=name)
        session.add(team)
        session.flush()
    return team


def create_user(
    session: Session,
    *,
    username: str,
    full_name: str,
    role: Role,
    actor: User | None,
    password: str | None = None,
    team: Team | None = None,
    locale: str = "fa",
    email: str | None = None,
) -> tuple[User, str]:
    """Create a user; returns it with its password (generated when not given)."""
    username = username.strip()
    if not username or not username.replace("_", "").replace(".", "").isalnum():
        raise InvalidInput(
            N_("username: letters, digits, '.' and '_' only"), details={"field": "username"}
        )
    _check_locale(locale)
    chosen_by_an_admin = actor is not None and password is None
    password = password or generate_password()
    _check_password(password)
    taken = select(User.id).where(func.lower(User.username) == username.lower())
    if session.scalar(taken) is not None:
        raise Conflict(
            N_("username '%(username)s' is taken"), details={"field": "username"}, username=username
        )
    user = User(
        username=username,
        full_name=full_name.strip() or username,
        role=role,
        team_id=team.id if team is not None else None,
        locale=locale,
        email=email,
        password_hash=hash_password(password),
        password_changed_at=utcnow(),
        must_change_password=chosen_by_an_admin,
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise Conflict(
            N_("username '%(username)s' is taken"), details={"field": "username"}, username=username
        ) from None
    if role is Role.AGENT:
        session.add(AgentStatus(agent_id=user.id))
    audit.record(
        session,
        "user.created",
        actor=actor,
        target_type="user",
        target_id=user.id,
        details={"username": username, "role": str(role)},
    )
    return user, password


def set_role(session: Session, user: User, role: Role, *, actor: User | None) -> None:
    if user.role is role:
        return
    if user.role is Role.ADMIN:
        _keep_an_admin(session, user, "demote")
    if user.role is Role.AGENT:
        _off_the_floor(session, user)
    old = user.role
    user.role = role
    revoke_all_sessions(session, user.id, because="role changed")
    if role is Role.AGENT and session.get(AgentStatus, user.id) is None:
        session.add(AgentStatus(agent_id=user.id))
    audit.record(
        session,
        "user.role_changed",
        actor=actor,
        target_type="user",
        target_id=user.id,
        details={"from": str(old), "to": str(role)},
    )


def set_team(session: Session, user: User, team: Team | None, *, actor: User | None) -> None:
    user.team = team
    audit.record(
        session,
        "user.team_changed",
        actor=actor,
        target_type="user",
        target_id=user.id,
        details={"team": team.name if team else None},
    )


def set_salesperson(
    session: Session, user: User, is_salesperson: bool, *, actor: User | None
) -> None:
    """A salesperson holds meetings: agents of their team book into their
    calendar, and they record each meeting's outcome."""
    if user.is_salesperson == is_salesperson:
        return
    user.is_salesperson = is_salesperson
    audit.record(
        session,
        "user.salesperson_set",
        actor=actor,
        target_type="user",
        target_id=user.id,
        details={"username": user.username, "is_salesperson": is_salesperson},
    )


def set_direct_number(
    session: Session, user: User, number: str | None, *, actor: User | None
) -> None:
    """The number the user gives customers (the script's read-back): an
    Iranian number, stored as E.164; empty clears it."""
    text = (number or "").strip()
    new = None
    if text:
        try:
            phone = normalize_phone(text, "IR")
        except InvalidPhone:
            phone = None
        if phone is None or phone.region != "IR":
            raise InvalidInput(
                N_("%(number)s is not an Iranian phone number."),
                number=text,
                details={"field": "direct_number"},
            )
        new = phone.e164
    if new == user.direct_number:
        return
    old, user.direct_number = user.direct_number, new
    audit.record(
        session,
        "user.direct_number_changed",
        actor=actor,
        target_type="user",
        target_id=user.id,
        details={"from": old, "to": new},
    )


def set_locale(session: Session, user: User, locale: str) -> None:
    _check_locale(locale)
    user.locale = locale


def set_active(session: Session, user: User, active: bool, *, actor: User | None) -> None:
    if actor is not None and actor.id == user.id and not active:
        raise Conflict(N_("you cannot deactivate your own account"))
    if not active and user.role is Role.ADMIN and user.is_active:
        _keep_an_admin(session, user, "deactivate")
    user.is_active = active
    if not active:
        revoke_all_sessions(session, user.id, because="deactivated")
    if not active and user.role is Role.AGENT:
        _off_the_floor(session, user)
    audit.record(
        session,
        "user.activated" if active else "user.deactivated",
        actor=actor,
        target_type="user",
        target_id=user.id,
    )


def reset_password(
    session: Session, user: User, *, actor: User | None, password: str | None = None
) -> str:
    password = password or generate_password()
    _check_password(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.failed_logins = 0
    user.locked_until = None
    user.must_change_password = True
    revoke_all_sessions(session, user.id, because="password reset")
    audit.record(session, "user.password_reset", actor=actor, target_type="user", target_id=user.id)
    return password


def change_own_password(
    session: Session, user: User, current: str, new: str, *, keep_token: str | None
) -> None:
    """The user's own choice (the one an admin set is for one login only):
    the current password proves it is them; every other login of theirs ends."""
    if not verify_password(user.password_hash, current):
        raise InvalidInput(N_("the current password is wrong"), details={"field": "current"})
    _check_password(new)
    if verify_password(user.password_hash, new):
        raise InvalidInput(N_("choose a password you have not just used"), details={"field": "new"})
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    for row in session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    ):
        if keep_token is None or row.token_hash != _token_hash(keep_token):
            row.revoked_at, row.revoked_because = utcnow(), "password changed"
    audit.record(
        session, "user.password_changed", actor=user, target_type="user", target_id=user.id
    )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            N_("password: at least %(count)s characters"),
            details={"field": "password"},
            count=MIN_PASSWORD_LENGTH,
        )


def _check_locale(locale: str) -> None:
    if locale not in SUPPORTED_LOCALES:
        raise InvalidInput(
            N_("locale must be one of %(locales)s"),
            details={"field": "locale"},
            locales=", ".join(SUPPORTED_LOCALES),
        )
