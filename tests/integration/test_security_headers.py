from pathlib import Path

from flask.testing import FlaskClient

from callcenter.db import Database
from callcenter.security_headers import BASE_HEADERS, HSTS, content_security_policy
from callcenter.settings import load_settings
from callcenter.states import Role
from tests.conftest import running_app
from tests.factories import TEST_PASSWORD, make_user


def test_pages_and_errors_carry_the_security_headers(client: FlaskClient) -> None:
    for path in ("/login", "/no-such-page", "/healthz"):
        response = client.get(path)
        for name, value in BASE_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
        assert "Strict-Transport-Security" not in response.headers  # not in test/embedded mode
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "style-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_the_policy_lets_the_browser_phone_reach_its_phone_server(tmp_path: Path) -> None:
    def policy(**webphone: object) -> str:
        settings = load_settings(
            environ={}, overrides={"instance_path": str(tmp_path), "webphone": webphone}
        )
        return content_security_policy(settings)

    assert "connect-src 'self' ws://*:5066;" in policy()
    proxy = policy(ws_url="wss://sip.example.net:8443/ws")
    assert "connect-src 'self' wss://sip.example.net:8443;" in proxy
    assert "connect-src 'self';" in policy(enabled=False)


def test_production_cookies_are_secure_http_only_and_same_site(
    tmp_path: Path, sqlite_database: Database
) -> None:
    settings = load_settings(
        environ={
            "CC_ENV": "production",
            "CC_DATABASE_URL": sqlite_database.url,
            "CC_SECRET_KEY": "a-production-secret-for-this-test-only",
            "CC_INSTANCE_PATH": str(tmp_path / "instance"),
        }
    )
    assert settings.is_production
    with sqlite_database.unit_of_work() as session:
        user = make_user(session, Role.AGENT)
    with running_app(settings, sqlite_database) as app:
        response = app.test_client().post(
            "/login", data={"username": user.username, "password": TEST_PASSWORD}
        )
    assert response.status_code == 302, response.text
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    attributes = {part.strip().split("=")[0].lower() for part in session_cookie.split(";")}
    assert {"secure", "httponly", "samesite"} <= attributes
    assert "SameSite=Lax" in session_cookie
    for cookie in cookies:
        assert "Secure" in cookie, cookie
    assert response.headers["Strict-Transport-Security"] == HSTS
