from flask.testing import FlaskClient

from callcenter.security_headers import BASE_HEADERS


def test_pages_and_errors_carry_the_security_headers(client: FlaskClient) -> None:
    for path in ("/login", "/no-such-page", "/healthz"):
        response = client.get(path)
        for name, value in BASE_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
        assert "Strict-Transport-Security" not in response.headers  # not in test/embedded mode
