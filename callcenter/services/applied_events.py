"""Which bus events a handler has applied (`processed_events`), so an event
delivered again changes nothing."""

from __future__ import annotations

from sqlalchemy import bindparam, text
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


def first_application(session: Session, event_id: str, handler: str) -> bool:
    """Mark the event applied by `handler`, in the caller's transaction; False
    when it was applied before. One statement: on PostgreSQL an application of
    the same event still in flight elsewhere makes this wait for its commit,
    then see it (a read first could miss it and then fail on the key)."""
    marked = session.execute(
        _MARK_APPLIED,
        {"event_id": event_id, "handler": handler, "processed_at": utcnow()},
    )
    return marked.first() is not None
