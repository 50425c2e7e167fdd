"""Logging in and out, lockout, rate limit, idle expiry, CSRF, cookie flags."""

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.models import AgentStatus, AuditEntry, User
from callcenter.states import AgentState, Role
from tests.conftest import csrf_token_from
from tests.factories import TEST_PASSWORD, log_in, make_user

HOMES = {
    Role.AGENT: "/agent/",
    Role.SUPERVISOR: "/supervisor/",
    Role.MANAGER: "/supervisor/reports",
    Role.ADMIN: "/admin/users",
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_home_page(
    client: FlaskClient, app_session: Session, role: Role
) -> None:
    user = make_user(app_session, role)
    app_session.commit()
    response = log_in(client, user.username)
    assert response.status_code == 302
    home = client.get(response.headers["Location"])
    assert home.status_code == 302 and home.headers["Location"] == HOMES[role]
    page = client.get(HOMES[role])
    assert page.status_code == 200
    assert user.full_name in page.text


def test_wrong_password_is_refused_with_a_clear_message(
    client: FlaskClient, app_session: Session
) -> None:
    user = make_user(app_session, Role.AGENT, locale="en")
    app_session.commit()
    response = log_in(client, user.username, "not-the-password")
    assert response.status_code == 401
    assert 'id="login-error"' in response.text
    assert client.get("/agent/").status_code == 302  # still anonymous: sent to log in


def test_unknown_user_gets_the_same_message(client: FlaskClient) -> None:
    response = log_in(client, "nobody", "whatever-password")
    assert response.status_code == 401
    assert 'id="login-error"' in response.text


def test_account_locks_after_repeated_failures(
    client: FlaskClient, app_session: Session, app: Flask
) -> None:
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    for _ in range(app.config["CC_LOCKOUT_POLICY"].max_failed_logins):
        assert log_in(client, user.username, "wrong-password!").status_code == 401
    locked = log_in(client, user.username)  # the right password, but locked
    assert locked.status_code == 401
    app_session.expire_all()
    assert app_session.get(User, user.id).locked_until is not None
    actions = app_session.scalars(select(AuditEntry.action)).all()
    assert actions.count("login.failed") == 5 and "login.locked" in actions


def test_deactivated_user_cannot_log_in(client: FlaskClient, app_session: Session) -> None:
    user = make_user(app_session, Role.AGENT, locale="en")
    user.is_active = False
    app_session.commit()
    client.post("/account/locale", data={"locale": "en"})
    response = log_in(client, user.username)
    assert response.status_code == 401
    assert "deactivated" in response.text


def test_login_is_rate_limited_per_address(app: Flask, client: FlaskClient) -> None:
    app.config["RATELIMIT_ENABLED"] = True
    statuses = [log_in(client, "someone", "bad-password").status_code for _ in range(12)]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]


def test_logout_ends_the_session_and_is_audited(client: FlaskClient, app_session: Session) -> None:
    user = make_user(app_session, Role.SUPERVISOR)
    app_session.commit()
    log_in(client, user.username)
    assert client.get("/supervisor/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/supervisor/").status_code == 302
    actions = app_session.scalars(select(AuditEntry.action)).all()
    assert "login" in actions and "logout" in actions


def test_idle_session_expires(client: FlaskClient, app_session: Session, app: Flask) -> None:
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    log_in(client, user.username)
    assert client.get("/agent/").status_code == 200
    idle = timedelta(minutes=app.config["CC_IDLE_TIMEOUT_MINUTES"] + 1)
    with client.session_transaction() as flask_session:
        flask_session["last_seen"] -= idle.total_seconds()
    _age_activity(app_session, user.id, idle)
    response = client.get("/agent/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def _age_activity(app_session: Session, user_id: int, idle: timedelta) -> None:
    app_session.expire_all()
    user = app_session.get(User, user_id)
    assert user is not None and user.last_active_at is not None
    user.last_active_at -= idle
    app_session.commit()


def test_socket_activity_keeps_the_session_alive(
    client: FlaskClient, app_session: Session, app: Flask
) -> None:
    from callcenter.extensions import socketio

    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    log_in(client, user.username)
    assert client.get("/agent/").status_code == 200
    idle = timedelta(minutes=app.config["CC_IDLE_TIMEOUT_MINUTES"] + 1)
    with client.session_transaction() as flask_session:
        flask_session["last_seen"] -= idle.total_seconds()
    _age_activity(app_session, user.id, idle)
    socket = socketio.test_client(app, flask_test_client=client)
    assert socket.emit("resume", {}, callback=True)["ok"]
    socket.disconnect()
    assert client.get("/agent/").status_code == 200


def test_an_agent_with_a_call_is_not_logged_out_for_idling(
    client: FlaskClient, app_session: Session, app: Flask
) -> None:
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    log_in(client, user.username)
    assert client.get("/agent/").status_code == 200
    idle = timedelta(minutes=app.config["CC_IDLE_TIMEOUT_MINUTES"] + 1)
    with client.session_transaction() as flask_session:
        flask_session["last_seen"] -= idle.total_seconds()
    _age_activity(app_session, user.id, idle)
    status = app_session.get(AgentStatus, user.id)
    assert status is not None
    status.state = AgentState.WRAP_UP
    app_session.commit()
    assert client.get("/agent/").status_code == 200


def test_the_login_limit_is_per_username_and_address_and_counts_refusals_only(
    app: Flask, app_session: Session
) -> None:
    app.config["RATELIMIT_ENABLED"] = True
    agents = [make_user(app_session, Role.AGENT) for _ in range(12)]
    app_session.commit()
    office = [app.test_client() for _ in agents]  # one NAT address, twelve agents
    assert [log_in(c, a.username).status_code for c, a in zip(office, agents, strict=True)] == [
        302
    ] * 12
    again = app.test_client()
    for _ in range(12):
        assert log_in(again, agents[0].username).status_code == 302
        again.post("/logout")
    guesses = [log_in(again, agents[1].username, "wrong-guess!").status_code for _ in range(11)]
    assert guesses[-1] == 429
    assert log_in(again, agents[2].username).status_code == 302


def test_forms_need_a_csrf_token(app: Flask, client: FlaskClient, app_session: Session) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    refused = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert refused.status_code == 400
    token = csrf_token_from(client.get("/login").text)
    accepted = client.post(
        "/login", data={"username": user.username, "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert accepted.status_code == 302


def test_session_cookie_is_http_only_and_same_site(
    client: FlaskClient, app_session: Session
) -> None:
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    response = log_in(client, user.username)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_passwords_are_stored_as_argon2id(app_session: Session) -> None:
    user = make_user(app_session, Role.AGENT)
    assert user.password_hash.startswith("$argon2id$")
    assert TEST_PASSWORD not in user.password_hash
