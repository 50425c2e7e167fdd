from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from callcenter.app import create_app
from callcenter.db import Database
from callcenter.settings import Settings


def test_healthz_reports_database_and_bus(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": True, "bus": True}}


def test_metrics_are_prometheus_text(client: FlaskClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "# TYPE" in response.text


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
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["checks"]["database"] is False
    login = client.post("/login", data={"username": "a", "password": "bbbbbbbbbbbb"})
    assert login.status_code in (400, 503)
    page = client.post(
        "/login", data={"username": "a", "password": "b"}, headers={"Accept": "application/json"}
    )
    assert "Traceback" not in page.text
    app.extensions["cc_bus"].stop()
