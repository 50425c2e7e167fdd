import socket
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from callcenter.app import create_app
from callcenter.db import Database
from callcenter.settings import Settings
from callcenter.states import Role
from tests.factories import log_in, make_user


def test_healthz_says_alive_and_readyz_checks_database_and_bus(client: FlaskClient) -> None:
    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.get_json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "checks": {"database": True, "event_bus": True}}


def test_readyz_asked_by_a_logged_in_user_answers_without_waiting_on_its_own_lock(
    client: FlaskClient, app_session: Session
) -> None:
    """Loading the user takes SQLite's write lock for the request; the ping
    used to queue behind it for busy_timeout (30 s), freezing every writer."""
    user = make_user(app_session, Role.AGENT)
    app_session.commit()
    log_in(client, user.username)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"] is True


def test_metrics_are_prometheus_text_with_the_documented_families(client: FlaskClient) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    expected = {
        "callcenter_calls_ended": "counter",
        "callcenter_event_bus_lag_seconds": "gauge",
        "callcenter_hopper_depth": "gauge",
        "callcenter_socket_clients": "gauge",
        "callcenter_pacer_dial_level": "gauge",
        "callcenter_event_bus_backlog": "gauge",
        "callcenter_event_bus_oldest_unacked_seconds": "gauge",
    }
    assert {name: families[name].type for name in expected if name in families} == expected
    (clients,) = families["callcenter_socket_clients"].samples
    assert clients.value >= 0


def test_unknown_route_is_a_proper_404_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert 'id="error-message"' in response.text and "<html" in response.text
    assert client.get("/api/nothing").get_json()["error"] == "not-found"


def _app_with_unreachable_database(settings: Settings, tmp_path: Path) -> Flask:
    missing = tmp_path / "no-such-dir" / "db.sqlite"
    app = create_app(settings, database=Database(f"sqlite:///{missing}"))
    app.extensions["cc_bus"].start()
    return app


def test_database_down_gives_503_not_a_stack_trace(settings: Settings, tmp_path: Path) -> None:
    app = _app_with_unreachable_database(settings, tmp_path)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # alive: restarting would not help
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["database"] is False
    assert ready.get_json()["reason"] == "database unreachable"
    login = client.post("/login", data={"username": "a", "password": "bbbbbbbbbbbb"})
    assert login.status_code in (400, 503)
    page = client.post(
        "/login", data={"username": "a", "password": "b"}, headers={"Accept": "application/json"}
    )
    assert "Traceback" not in page.text
    app.extensions["cc_bus"].stop()


def _closed_port() -> int:
    """A port nothing listens on (bound once for a free number, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_readyz_is_503_with_the_reason_while_postgresql_is_unreachable(
    settings: Settings,
) -> None:
    database = Database(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/callcenter")
    app = create_app(settings, database=database)
    app.extensions["cc_bus"].start()
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
    finally:
        app.extensions["cc_bus"].stop()
        database.dispose()
    assert ready.status_code == 503
    assert ready.get_json() == {
        "status": "unavailable",
        "checks": {"database": False, "event_bus": True},
        "reason": "database unreachable",
    }


def test_readyz_is_ready_on_postgresql(settings: Settings, postgres_database: Database) -> None:
    app = create_app(settings, database=postgres_database)
    app.extensions["cc_bus"].start()
    try:
        ready = app.test_client().get("/readyz")
    finally:
        app.extensions["cc_bus"].stop()
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["checks"] == {"database": True, "event_bus": True}
