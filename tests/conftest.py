"""Shared fixtures. Data-layer tests run against a real SQLite file and a real
PostgreSQL server (CC_TEST_DATABASE_URL); a test that needs a server it cannot
reach fails, it does not skip."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from callcenter import migrate
from callcenter.auth import passwords
from callcenter.db import Base, Database, with_installed_driver
from callcenter.settings import Settings, load_settings

pytest_plugins = ["tests.factories", "tests.lanes"]

# Argon2id stays the KDF in tests, at its cheapest cost: users are made and
# log in thousands of times, at ~0.1 s a hash with the production cost (which
# tests/unit/test_passwords.py checks). Processes the tests start use the real one.
PRODUCTION_HASHER = passwords._hasher
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def postgres_admin_url() -> str:
    """As the README writes it: postgresql://, the installed driver is found."""
    return os.environ.get("CC_TEST_DATABASE_URL", DEFAULT_PG_URL)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the test server, migrated once, dropped at the end."""
    admin_url = make_url(with_installed_driver(postgres_admin_url()))
    name = f"cc_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the message must say which server was not reachable
        pytest.fail(f"PostgreSQL at {admin_url.render_as_string()} is not reachable: {exc}")
    # As the README and docs/deployment.md write it: postgresql://, no driver.
    url = make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(database: Database) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with database.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_database(sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "callcenter.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    _truncate_all(database)
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Database:
    """Runs the test once on a SQLite file and once on PostgreSQL."""
    fixture = "sqlite_database" if request.param == "sqlite" else "postgres_database"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.sessions() as db_session:
        yield db_session


def _this_workers_database(url: str) -> str:
    """Under pytest-xdist each worker flushes a Redis database of its own: the
    given one for the first worker, the ones below it for the others."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    offset = int(worker.removeprefix("gw") or 0)
    if not offset:
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) - offset
    if database < 0:
        pytest.fail(f"no Redis database left below {url} for pytest-xdist worker {worker}")
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    url = _this_workers_database(os.environ.get("CC_TEST_REDIS_URL", DEFAULT_REDIS_URL))
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url} is not reachable: {exc}")
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        environ={},
        overrides={"env": "test", "instance_path": str(tmp_path / "instance")},
    )


@contextmanager
def running_app(settings: Settings, database: Database) -> Iterator[Flask]:
    """The real app on `database`, its bus running; CSRF and rate limits off
    (the tests that check those switch them back on)."""
    from callcenter.app import create_app

    flask_app = create_app(settings, database=database)
    flask_app.config["WTF_CSRF_ENABLED"] = False
    flask_app.config["RATELIMIT_ENABLED"] = False
    bus = flask_app.extensions["cc_bus"]
    bus.start()
    try:
        yield flask_app
    finally:
        bus.stop()


@pytest.fixture
def app(settings: Settings, sqlite_database: Database) -> Iterator[Flask]:
    with running_app(settings, sqlite_database) as flask_app:
        yield flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def app_session(sqlite_database: Database) -> Iterator[Session]:
    """A session on the app's own database, for arranging and checking rows.
    Deferred, so a test holding it open never blocks the app's writers."""
    with sqlite_database.read_sessions() as db_session:
        yield db_session


CSRF_PATTERN = re.compile(
    r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"'
)


def csrf_token_from(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)
