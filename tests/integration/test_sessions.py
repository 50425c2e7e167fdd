"""A login is a server-side session: logging out, deactivation, a role
change or a password reset end it everywhere (a copied cookie over HTTP and
Socket.IO, and the sockets already open); redirects after login stay on the
site; a login attempt does not tell who exists."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import AuditEntry, User
from callcenter.services import accounts
from callcenter.states import Role
from tests.factories import TEST_PASSWORD, log_in, make_user


def copied_cookie(source: FlaskClient, app: Flask) -> FlaskClient:
    """Another browser holding a copy of `source`'s session cookie."""
    thief = app.test_client()
    cookie = source.get_cookie("session")
    assert cookie is not None
    thief.set_cookie("session", cookie.value)
    return thief


def socket_for(app: Flask, client: FlaskClient) -> Any:
    from callcenter.extensions import socketio

    return socketio.test_client(app, flask_test_client=client)


def test_a_cookie_copied_before_logout_does_not_work_after_it(
    app: Flask, client: FlaskClient, app_session: Session
) -> None:
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    log_in(client, user.username)
    thief = copied_cookie(client, app)
    assert thief.get("/agent/").status_code == 200
    client.post("/logout")
    assert thief.get("/agent/").status_code == 302
    assert not socket_for(app, thief).is_connected()


@pytest.mark.parametrize("what", ["deactivate", "demote", "reset password", "log out"])
def test_an_open_socket_is_closed_when_its_login_ends(
    app: Flask, client: FlaskClient, app_session: Session, what: str
) -> None:
    user = make_user(app_session, Role.SUPERVISOR)
    admin = make_user(app_session, Role.ADMIN)
    app_session.commit()
    log_in(client, user.username)
    socket = socket_for(app, client)
    assert socket.is_connected()
    target = app_session.get(User, user.id)
    assert target is not None
    if what == "deactivate":
        accounts.set_active(app_session, target, False, actor=admin)
    elif what == "demote":
        accounts.set_role(app_session, target, Role.AGENT, actor=admin)
    elif what == "reset password":
        accounts.reset_password(app_session, target, actor=admin)
    else:
        client.post("/logout")
    app_session.commit()
    closed = app.extensions["cc_session_sweep"].sweep()
    assert closed and not socket.is_connected()


def test_other_logins_of_the_user_survive_one_logout(app: Flask, app_session: Session) -> None:
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    desk, laptop = app.test_client(), app.test_client()
    log_in(desk, user.username)
    log_in(laptop, user.username)
    desk.post("/logout")
    assert laptop.get("/agent/").status_code == 200


@pytest.mark.parametrize(
    "next_url",
    ["/\t/evil.example", "//evil.example", "/\\evil.example",
     "https://evil.example/", "javascript:alert(1)", "/\nLocation: //evil.example"],
)  # fmt: skip
def test_login_never_redirects_off_the_site(
    client: FlaskClient, app_session: Session, next_url: str
) -> None:
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    response = client.post(
        "/login",
        query_string={"next": next_url},
        data={"username": user.username, "password": TEST_PASSWORD},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//"), location
    assert "evil" not in location


def test_the_probe_url_with_an_encoded_tab_stays_on_the_site(
    client: FlaskClient, app_session: Session
) -> None:
    """Exactly the probe: /login?next=/%09/evil.example (the tab decoded)."""
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    response = client.post(
        "/login?next=/%09/evil.example",
        data={"username": user.username, "password": TEST_PASSWORD},
    )
    assert response.headers["Location"] == "/"


def test_a_path_on_the_site_is_kept_as_the_next_page(
    client: FlaskClient, app_session: Session
) -> None:
    user = make_user(app_session, Role.MANAGER)
    app_session.commit()
    response = client.post(
        "/login?next=/supervisor/reports?campaign=2",
        data={"username": user.username, "password": TEST_PASSWORD},
    )
    assert response.headers["Location"] == "/supervisor/reports?campaign=2"


def _login_seconds(client: FlaskClient, username: str) -> float:
    started = time.perf_counter()
    client.post("/login", data={"username": username, "password": "not-the-password-1"})
    return time.perf_counter() - started


def test_an_unknown_user_takes_as_long_and_reads_the_same_as_a_wrong_password(
    app: Flask, app_session: Session
) -> None:
    """The ratio is bounded loosely (a whole password hash apart was 26x)."""
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    client = app.test_client()
    known = statistics.median(_login_seconds(client, user.username) for _ in range(4))
    unknown = statistics.median(_login_seconds(client, "nobody_here") for _ in range(4))
    assert unknown > known / 3, (unknown, known)
    wrong = client.post("/login", data={"username": user.username, "password": "x" * 12})
    missing = client.post("/login", data={"username": "nobody_here", "password": "x" * 12})
    assert wrong.status_code == missing.status_code == 401
    error = 'id="login-error"'
    assert error in wrong.text and error in missing.text


def test_a_locked_account_reads_like_a_wrong_password(app: Flask, app_session: Session) -> None:
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    client = app.test_client()
    first = client.post("/login", data={"username": user.username, "password": "x" * 12})
    for _ in range(6):
        locked = client.post("/login", data={"username": user.username, "password": "x" * 12})
    assert locked.status_code == 401
    assert _error_text(locked.text) == _error_text(first.text)


def _error_text(page: str) -> str:
    start = page.index('id="login-error"')
    return page[start : page.index("</", start)]


def test_the_typed_username_of_an_unknown_user_is_not_kept(
    client: FlaskClient, app_session: Session
) -> None:
    client.post("/login", data={"username": "MyS3cretPassw0rd", "password": "x" * 12})
    details = app_session.scalars(
        select(AuditEntry.details).where(AuditEntry.action == "login.failed")
    ).all()
    assert details and all("MyS3cretPassw0rd" not in str(d) for d in details)


def test_after_an_admins_reset_the_user_chooses_their_own_password_first(
    app: Flask, app_session: Session
) -> None:
    user = make_user(app_session, Role.AGENT)
    admin = make_user(app_session, Role.ADMIN)
    app_session.commit()
    target = app_session.get(User, user.id)
    assert target is not None
    given = accounts.reset_password(app_session, target, actor=admin)
    app_session.commit()
    client = app.test_client()
    client.post("/login", data={"username": user.username, "password": given})
    page = client.get("/agent/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/account/password")
    assert not socket_for(app, client).is_connected()
    wrong = client.post(
        "/account/password",
        data={"current": "not-it-at-all", "new": "my-own-choice-1", "again": "my-own-choice-1"},
    )
    assert wrong.status_code == 422 and 'id="password-error"' in wrong.text
    done = client.post(
        "/account/password",
        data={"current": given, "new": "my-own-choice-1", "again": "my-own-choice-1"},
    )
    assert done.status_code == 302
    assert client.get("/agent/").status_code == 200
    fresh = app.test_client()
    fresh.post("/login", data={"username": user.username, "password": "my-own-choice-1"})
    assert fresh.get("/agent/").status_code == 200


def test_changing_ones_password_ends_the_other_logins_and_keeps_this_one(
    app: Flask, app_session: Session
) -> None:
    user = make_user(app_session, Role.SUPERVISOR)
    app_session.commit()
    here, elsewhere = app.test_client(), app.test_client()
    log_in(here, user.username)
    log_in(elsewhere, user.username)
    changed = here.post(
        "/account/password",
        data={"current": TEST_PASSWORD, "new": "another-good-one", "again": "another-good-one"},
    )
    assert changed.status_code == 302
    assert here.get("/supervisor/").status_code == 200
    assert elsewhere.get("/supervisor/").status_code == 302


def test_a_sockets_events_read_its_session_copy_and_still_check_the_login_each_time(
    app: Flask, client: FlaskClient, app_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After its connect, a socket's events do not open the session cookie
    again (Flask-SocketIO hands them the socket's copy of it); the login in
    that copy, once revoked, is refused at the next event."""
    from flask.sessions import SecureCookieSessionInterface

    from callcenter.extensions import socketio

    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    log_in(client, user.username)
    socket = socketio.test_client(app, flask_test_client=client)
    assert socket.is_connected()
    opened: list[str] = []
    cookie_opened = SecureCookieSessionInterface.open_session

    def counted(self: Any, app: Flask, request: Any) -> Any:
        opened.append(request.path)
        return cookie_opened(self, app, request)

    monkeypatch.setattr(SecureCookieSessionInterface, "open_session", counted)
    assert socket.emit("resume", {}, callback=True)["ok"]
    assert socket.emit("resume", {}, callback=True)["ok"]
    assert opened == []
    accounts.revoke_all_sessions(app_session, user.id, because="test")
    app_session.commit()
    refused = socket.emit("resume", {}, callback=True)
    assert refused["ok"] is False and refused["error"] == "not-logged-in"
    assert client.get("/agent/").status_code == 302  # a page still opens the cookie
    assert opened
