"""Engine, sessions and the declarative base shared by every model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from callcenter import row_locks
from callcenter.db_liveness import check_pooled_connections

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def with_installed_driver(url: str) -> str:
    """A URL as users write it (``postgresql://`` or ``postgres://``) with the
    PostgreSQL driver that is installed, psycopg 3; a driver named stays."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


_HELD = "cc_held_rows"


def _hold_for_the_transaction(session: Session, instance: object) -> None:
    """A transaction keeps every row it loaded until it ends or rolls back.
    The identity map holds rows weakly: a row read, no longer referenced, and
    asked for again with session.get (a call's campaign, the agent's user)
    was read from the database again, several times in one call event."""
    session.info.setdefault(_HELD, []).append(instance)


def _let_go(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_HELD, None)


def _let_go_on_rollback(session: Session, _previous: SessionTransaction) -> None:
    # A SAVEPOINT rolled back too: the rows it loaded or wrote may be gone.
    session.info.pop(_HELD, None)


class Database:
    """One engine and its session factory; one session per unit of work."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        url = with_installed_driver(url)
        self.url = url
        self.engine = _make_engine(url, echo=echo)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "loaded_as_persistent", _hold_for_the_transaction)
        event.listen(self.sessions, "after_transaction_end", _let_go)
        event.listen(self.sessions, "after_soft_rollback", _let_go_on_rollback)
        event.listen(self.sessions, "after_transaction_end", row_locks.forget)
        # Long reads (exports, test assertions) must not hold SQLite's write lock.
        self.read_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False
        )

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """Commit when the block ends, roll back if it raises."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        """A read that takes no lock: on SQLite the request asking may hold
        the write lock already, and waiting on it would stall every writer."""
        with self.engine.execution_options(sqlite_begin="DEFERRED").connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _make_engine(url: str, *, echo: bool) -> Engine:
    # hide_parameters: a failed statement's message (logged with its traceback)
    # would otherwise carry the bound values: customers' names and numbers.
    options: dict[str, Any] = {"echo": echo, "future": True, "hide_parameters": True}
    if url.startswith("sqlite"):
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if ":memory:" not in url:
            options["poolclass"] = NullPool
    else:
        options.update(pool_size=10, max_overflow=20)
    engine = create_engine(url, **options)
    if engine.dialect.name == "postgresql":
        check_pooled_connections(engine)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's
    recipe is to switch it off (isolation_level=None above) and BEGIN here.

    IMMEDIATE by default: a unit of work takes the write lock up front, so
    concurrent writers queue on busy_timeout. A DEFERRED transaction that
    read before another connection committed fails at its first write with
    "database is locked" at once, and waiting cannot help it. Read-only
    sessions (Database.read_sessions) stay DEFERRED so they never block."""
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")
