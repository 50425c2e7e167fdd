"""Which bus events a handler has applied (`processed_events`), so an event
delivered again changes nothing."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from callcenter.db import utcnow
from callcenter.models import ProcessedEvent


def first_application(session: Session, event_id: str, handler: str) -> bool:
    """Mark the event applied by `handler`, in the caller's transaction; False
    when it was applied before. One statement: on PostgreSQL an application of
    the same event still in flight elsewhere makes this wait for its commit,
    then see it (a read first could miss it and then fail on the key)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    marked = session.execute(
        dialect.insert(ProcessedEvent)
        .values(event_id=event_id, handler=handler, processed_at=utcnow())
        .on_conflict_do_nothing()
        .returning(ProcessedEvent.event_id)
    )
    return marked.first() is not None
