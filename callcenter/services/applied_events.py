"""Which bus events a handler has applied (`processed_events`), so an event
delivered again changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.models import ProcessedEvent

# Text, not the dialects' insert().on_conflict_do_nothing(): SQLAlchemy 2.0
# gives those no cache key, so they were compiled again on every event (a
# tenth of the call-event path's statements; bench/call_events).
_MARK_APPLIED = text(
    "INSERT INTO processed_events (event_id, handler, processed_at)"
    " VALUES (:event_id, :handler, :processed_at)"
    " ON CONFLICT DO NOTHING RETURNING event_id"
).bindparams(bindparam("processed_at", type_=ProcessedEvent.__table__.c.processed_at.type))

# (the transaction, {(event_id, handler): applied for the first time})
_MARKED_TOGETHER = "cc_events_marked_together"


def first_application(session: Session, event_id: str, handler: str) -> bool:
    """Mark the event applied by `handler`, in the caller's transaction; False
    when it was applied before. One statement: on PostgreSQL an application of
    the same event still in flight elsewhere makes this wait for its commit,
    then see it (a read first could miss it and then fail on the key).
    An event `mark_together` marked in this transaction is answered from there."""
    marked = session.info.get(_MARKED_TOGETHER)
    if marked is not None and marked[0] is session.get_transaction():
        first = marked[1].pop((event_id, handler), None)
        if first is not None:
            return first
    inserted = session.execute(
        _MARK_APPLIED,
        {"event_id": event_id, "handler": handler, "processed_at": utcnow()},
    )
    return inserted.first() is not None


def mark_together(session: Session, applications: Sequence[tuple[str, str]]) -> None:
    """`first_application` for each (event_id, handler) of a read's events,
    in one statement; each handler's own `first_application` then takes its
    answer, once. Marked in key order, so two consumers marking some of the
    same events (a redelivery) wait for each other rather than deadlock."""
    wanted = sorted(set(applications))
    if not wanted:
        return
    now = utcnow()
    values: dict[str, object] = {"processed_at": now}
    for number, (event_id, handler) in enumerate(wanted):
        values[f"event_id_{number}"] = event_id
        values[f"handler_{number}"] = handler
    fresh = {
        (event_id, handler)
        for event_id, handler in session.execute(_mark_many(len(wanted)), values)
    }
    session.info[_MARKED_TOGETHER] = (
        session.get_transaction(),
        {application: application in fresh for application in wanted},
    )


@lru_cache(maxsize=32)
def _mark_many(count: int) -> TextClause:
    rows = ", ".join(f"(:event_id_{n}, :handler_{n}, :processed_at)" for n in range(count))
    return text(
        "INSERT INTO processed_events (event_id, handler, processed_at)"
        f" VALUES {rows} ON CONFLICT DO NOTHING RETURNING event_id, handler"
    ).bindparams(bindparam("processed_at", type_=ProcessedEvent.__table__.c.processed_at.type))
