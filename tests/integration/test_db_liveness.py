"""A pooled PostgreSQL connection that the server ended is found at checkout
by a peek at its socket, not by a `SELECT 1`, and the unit of work that
asks for a connection gets a live one."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, make_url, text

from callcenter.db import Database
from callcenter.db_liveness import closed_by_server
from tests.conftest import postgres_admin_url
from tests.support import statements, wait_until


def _backend_pid(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.scalar(text("SELECT pg_backend_pid()")))


def _terminate(url: str, pid: int) -> None:
    """End the backend and wait until it is gone: the pool is not asked before."""
    admin = create_engine(
        make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        # AUTOCOMMIT: each poll its own transaction, so a fresh pg_stat_activity
        wait_until(
            lambda: (
                not connection.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                )
            ),
            10,
            "the terminated backend to go",
        )
    admin.dispose()


def test_a_connection_the_server_ended_is_replaced_at_checkout(
    postgres_database: Database, postgres_url: str
) -> None:
    first = _backend_pid(postgres_database)
    assert postgres_database.engine.pool.checkedin() == 1

    _terminate(postgres_url, first)

    assert _backend_pid(postgres_database) != first


def test_a_live_pooled_connection_is_reused_without_a_ping(postgres_database: Database) -> None:
    first = _backend_pid(postgres_database)

    with statements(postgres_database) as seen:
        assert _backend_pid(postgres_database) == first
    assert seen == ["SELECT pg_backend_pid()"]
    assert not postgres_database.engine.pool._pre_ping


def test_the_peek_tells_an_open_idle_connection_from_an_ended_one() -> None:
    url = make_url(postgres_admin_url()).set(drivername="postgresql").render_as_string(False)
    connection = psycopg.connect(url, autocommit=True)
    watcher = psycopg.connect(url, autocommit=True)
    try:
        connection.execute("SELECT 1").fetchall()
        assert not closed_by_server(connection)

        watcher.execute("SELECT pg_terminate_backend(%s)", (connection.info.backend_pid,))
        wait_until(lambda: closed_by_server(connection), 10, "the ended connection to be seen")
        with pytest.raises(psycopg.OperationalError):
            connection.execute("SELECT 1")
    finally:
        connection.close()
        watcher.close()
    assert closed_by_server(connection)
