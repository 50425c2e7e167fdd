"""A socket's events take the user its connect checked, with no statement,
until something changes the user: a change committed in this process is
seen at the next event, one in another web process as soon as the queue
carries it, and one made outside the app at the next sweep."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import socketio as python_socketio
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from callcenter.db import Database, utcnow
from callcenter.models import User
from callcenter.realtime import message_queue_options, wire_json
from callcenter.realtime.managers import BatchingRedisManager, CoalescingRedisManager
from callcenter.services import accounts
from callcenter.settings import Settings
from callcenter.states import Role
from tests.conftest import running_app
from tests.factories import log_in, make_user
from tests.support import statements


def _login_reads(seen: list[str]) -> list[str]:
    return [sql for sql in seen if "user_sessions" in sql]


def _user_writes(seen: list[str]) -> list[str]:
    return [sql for sql in seen if sql.startswith("UPDATE users")]


def _agent_socket(app: Flask, client: FlaskClient, app_session: Session) -> tuple[User, Any]:
    from callcenter.extensions import socketio

    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    log_in(client, user.username)
    socket = socketio.test_client(app, flask_test_client=client)
    assert socket.is_connected()
    return user, socket


def _resumed(socket: Any) -> dict[str, Any]:
    answer: dict[str, Any] = socket.emit("resume", {}, callback=True)
    assert answer["ok"], answer
    return answer


def test_a_sockets_events_read_the_login_once_and_again_after_the_user_changes(
    app: Flask, client: FlaskClient, app_session: Session, sqlite_database: Database
) -> None:
    user, socket = _agent_socket(app, client, app_session)
    with statements(sqlite_database) as seen:
        _resumed(socket)
        _resumed(socket)
    assert _login_reads(seen) == []

    target = app_session.get(User, user.id)
    assert target is not None
    accounts.set_direct_number(app_session, target, "0912 345 6789", actor=None)
    app_session.commit()
    with statements(sqlite_database) as seen:
        _resumed(socket)
        _resumed(socket)
    assert len(_login_reads(seen)) == 1

    accounts.set_role(app_session, target, Role.SUPERVISOR, actor=None)
    app_session.commit()
    refused = socket.emit("resume", {}, callback=True)
    assert refused["ok"] is False and refused["error"] == "not-logged-in"


def test_a_held_user_is_not_refreshed_by_its_own_activity_and_writes_it_once_a_step(
    app: Flask, client: FlaskClient, app_session: Session, sqlite_database: Database
) -> None:
    """An activity time written (by a page, by a socket event) does not make
    the user forgotten, and the held row learns it: a socket event writes it
    when it is a step old, and the next events do not write it again."""
    user, socket = _agent_socket(app, client, app_session)
    target = app_session.get(User, user.id)
    assert target is not None
    target.last_active_at = utcnow() - accounts.ACTIVITY_STEP - timedelta(seconds=5)
    app_session.commit()  # the held row learns it: not forgotten for it
    with statements(sqlite_database) as seen:
        _resumed(socket)
        _resumed(socket)
        _resumed(socket)
    assert len(_user_writes(seen)) == 1
    assert _login_reads(seen) == []


@pytest.fixture
def app_on_both(settings: Settings, database: Database) -> Iterator[Flask]:
    with running_app(settings, database) as flask_app:
        yield flask_app


def test_the_sweep_forgets_a_user_changed_outside_the_app_and_closes_a_revoked_login(
    app_on_both: Flask, database: Database
) -> None:
    """On both databases: the sweep's fresh row equals the held one until
    the user changes (the same types read by both ways)."""
    app = app_on_both
    with database.read_sessions() as app_session:
        user, socket = _agent_socket(app, app.test_client(), app_session)
    sweep = app.extensions["cc_session_sweep"]
    assert sweep.sweep(refresh=True) == []
    with statements(database) as seen:
        _resumed(socket)
    assert _login_reads(seen) == []  # nothing changed: still held
    with database.engine.begin() as connection:  # no ORM: nothing is told
        connection.execute(update(User).where(User.id == user.id).values(full_name="Renamed"))
    assert sweep.sweep(refresh=False) == []
    with statements(database) as seen:
        _resumed(socket)
    assert _login_reads(seen) == []  # a sweep between the minutes reads the logins alone
    assert sweep.sweep(refresh=True) == []
    with statements(database) as seen:
        _resumed(socket)
    assert len(_login_reads(seen)) == 1

    with database.engine.begin() as connection:
        connection.execute(update(User).where(User.id == user.id).values(is_active=False))
    assert len(sweep.sweep(refresh=False)) == 1
    assert not socket.is_connected()


@pytest.fixture
def channel(redis_url: str) -> str:
    """A channel of this test's own: the listeners' threads outlive it."""
    return f"{message_queue_options(redis_url)['channel']}-{uuid.uuid4().hex[:8]}"


def _web_process(redis_url: str, channel: str) -> CoalescingRedisManager:
    manager = CoalescingRedisManager(redis_url, channel=channel)
    python_socketio.Server(client_manager=manager, json=wire_json, async_mode="threading")
    manager.initialize()
    return manager


def _subscribed(redis_url: str, channel: str, count: int) -> None:
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 5
    while dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) < count:
        assert time.monotonic() < deadline, "the listeners did not subscribe"
        time.sleep(0.02)
    client.close()


def _holding(manager: CoalescingRedisManager, session: Session, *users: User) -> None:
    for user in users:
        manager.held_users.hold(f"socket-{user.id}", f"token-{user.id}", user)
        assert _held(manager, session, user)


def _held(manager: CoalescingRedisManager, session: Session, user: User) -> bool:
    session.expunge_all()
    found = manager.held_users.user(session, f"socket-{user.id}", user.id, f"token-{user.id}")
    return found is not None


@pytest.mark.redis
def test_a_user_forgotten_in_one_web_process_is_forgotten_in_every_other(
    redis_url: str, channel: str, app_session: Session
) -> None:
    first, second = _web_process(redis_url, channel), _web_process(redis_url, channel)
    _subscribed(redis_url, channel, 2)
    ann, bob = make_user(app_session, Role.AGENT), make_user(app_session, Role.AGENT)
    app_session.commit()
    _holding(first, app_session, ann, bob)
    _holding(second, app_session, ann, bob)

    first.forget_users({ann.id})
    assert not _held(first, app_session, ann)  # here at once, not through Redis
    deadline = time.monotonic() + 5
    while _held(second, app_session, ann):
        assert time.monotonic() < deadline, "the other process did not hear it"
        time.sleep(0.02)
    assert _held(first, app_session, bob) and _held(second, app_session, bob)

    dialer = BatchingRedisManager(redis_url, channel=channel, write_only=True)
    python_socketio.Server(client_manager=dialer, json=wire_json, async_mode="threading")
    dialer.forget_users({bob.id})  # a process with no sockets (a CLI command)
    deadline = time.monotonic() + 5
    while _held(first, app_session, bob) or _held(second, app_session, bob):
        assert time.monotonic() < deadline, "not heard from a process with no sockets"
        time.sleep(0.02)
