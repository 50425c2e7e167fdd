"""The one path for what leaves a transaction: browser pushes, bus events and
the domain events the live floor counts are queued on the session and handed
on only once its outermost transaction commits, so nobody outside ever hears
of a change that was rolled back.

SAVEPOINTs (`Session.begin_nested`) are honoured: work queued inside one
belongs to it. When it is released the work waits for the enclosing
transaction; when it is rolled back only that work is dropped, and what was
queued before it stands.

At the commit each outlet hands on its work in the order it was queued, the
outlets one after the other in the order of `Outlet`, each outlet's inside
the contexts given to `deliver_inside` (an outlet's Socket.IO publishes go to
Redis together at its end: the screen pop is not held back by the live
floor's counting, and pushes to a room keep their order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from enum import Enum
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

QUEUE = "after_commit_queue"


class Outlet(Enum):
    """Where queued work goes, in the order the outlets are served."""

    BROWSER_EMITS = "browser_emits"  # realtime.emit_after_commit
    BROWSER_DELTAS = "browser_deltas"  # realtime.push_after_commit
    BUS_EVENTS = "bus_events"  # services.bus_outbox.publish_after_commit
    DOMAIN_EVENTS = "domain_events"  # record_event, to the consumers of `subscribe`
    USER_CHANGES = "user_changes"  # realtime.socket_users: the users sockets hold


_ORDER = tuple(Outlet)

Deliver = Callable[[Session, Sequence[Any]], None]
Consumer = Callable[[Sequence[Any]], None]

# (the SAVEPOINT it was queued in, or None for the outermost transaction; outlet; work)
Queued = tuple[SessionTransaction | None, Outlet, Any]

_deliverers: dict[Outlet, Deliver] = {}
_consumers: dict[type[Session], list[Consumer]] = {}
_contexts: list[Callable[[], AbstractContextManager[object]]] = []


def deliver_with(outlet: Outlet, deliver: Deliver) -> None:
    """How an outlet hands on its work once committed (set by the module
    that queues to it)."""
    _deliverers[outlet] = deliver


def deliver_inside(context: Callable[[], AbstractContextManager[object]]) -> None:
    """Each outlet's work of a commit is handed on inside a new `context()`."""
    _contexts.append(context)


def defer(session: Session, outlet: Outlet, work: Any) -> None:
    queue: list[Queued] = session.info.setdefault(QUEUE, [])
    queue.append((session.get_nested_transaction(), outlet, work))


def record_event(session: Session, domain_event: Any) -> None:
    """A domain event that happened in this transaction: the consumers
    subscribed to the session's factory get it once it commits."""
    defer(session, Outlet.DOMAIN_EVENTS, domain_event)


def subscribe(sessions: sessionmaker[Session], consumer: Consumer) -> None:
    """`consumer` gets the domain events of each commit of a session made by
    `sessions`, in one list. A sessionmaker makes its sessions of a class of
    its own (`sessionmaker.class_`; SQLAlchemy's per-factory listeners rely on
    it too), so other databases' sessions (other apps, tests) are not heard."""
    _consumers.setdefault(sessions.class_, []).append(consumer)


def _deliver_domain_events(session: Session, domain_events: Sequence[Any]) -> None:
    for consumer in _consumers.get(type(session), ()):
        consumer(domain_events)


deliver_with(Outlet.DOMAIN_EVENTS, _deliver_domain_events)


@event.listens_for(Session, "after_commit")
def _deliver_on_commit(session: Session) -> None:
    released = session.get_nested_transaction()
    if released is not None:
        _move_to_enclosing(session, released)
        return
    queue: list[Queued] = session.info.pop(QUEUE, [])
    by_outlet: dict[Outlet, list[Any]] = {}
    for _savepoint, outlet, work in queue:
        by_outlet.setdefault(outlet, []).append(work)
    for outlet in _ORDER:
        if outlet in by_outlet:
            with ExitStack() as inside:
                for context in _contexts:
                    inside.enter_context(context())
                _deliverers[outlet](session, by_outlet[outlet])


def _move_to_enclosing(session: Session, released: SessionTransaction) -> None:
    enclosing = released.parent
    while enclosing is not None and not enclosing.nested:
        enclosing = enclosing.parent
    queue: list[Queued] = session.info.get(QUEUE, [])
    queue[:] = [
        (enclosing if savepoint is released else savepoint, outlet, work)
        for savepoint, outlet, work in queue
    ]


@event.listens_for(Session, "after_rollback")
def _drop_on_rollback(session: Session) -> None:
    # Here and not in after_soft_rollback: a SAVEPOINT whose flush failed is
    # rolled back by the flush and then only closed by its `with` block. At
    # this point the innermost open SAVEPOINT is the one rolled back.
    rolled_back = session.get_nested_transaction()
    if rolled_back is None:
        session.info.pop(QUEUE, None)
        return
    # Only the SAVEPOINT (and any still open inside it, which went with it).
    queue: list[Queued] = session.info.get(QUEUE, [])
    queue[:] = [queued for queued in queue if not _inside(queued[0], rolled_back)]


def _inside(savepoint: SessionTransaction | None, rolled_back: SessionTransaction) -> bool:
    while savepoint is not None:
        if savepoint is rolled_back:
            return True
        savepoint = savepoint.parent
    return False
