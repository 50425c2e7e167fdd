"""Is a pooled PostgreSQL connection still open, asked without a round trip.

SQLAlchemy's `pool_pre_ping` sends `SELECT 1` on every checkout: one round
trip per unit of work, 5.5% of a consume process's CPU and as many
statements for PostgreSQL (docs/scaling.md). A connection resting in the
pool has nothing to read; when the server ends it (a restart, an immediate
shutdown, `pg_terminate_backend`, an idle timeout) it sends its last
message and closes the socket, so the socket turns readable. Peeking at the
socket tells that without sending anything. What a peek cannot see, a
server that vanished without closing (a cut cable), a ping would not have
seen sooner either: it would wait for TCP's own timeout."""

from __future__ import annotations

import _socket  # the C module: gevent's patched socket would wait on EAGAIN
from typing import Any

from sqlalchemy import Engine, event, exc

PEEK = _socket.MSG_PEEK | _socket.MSG_DONTWAIT


def closed_by_server(dbapi_connection: Any) -> bool:
    """True when the server ended this idle connection (or spoke unasked)."""
    if dbapi_connection.closed:
        return True
    probe = _socket.socket(fileno=dbapi_connection.fileno())
    try:
        probe.recv(1, PEEK)
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        probe.detach()
    return True


def _check_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # The pool discards a connection that raises this and checks out another.
    if closed_by_server(dbapi_connection):
        raise exc.DisconnectionError("the server closed this pooled connection")


def check_pooled_connections(engine: Engine) -> None:
    event.listen(engine, "checkout", _check_on_checkout)
