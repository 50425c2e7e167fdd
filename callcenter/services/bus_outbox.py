"""Bus events published only once the session commits, like browser emits:
a consumer never acts on a change that was rolled back."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from callcenter.bus import EventBus
from callcenter.events import Event

PENDING = "pending_bus_events"


def publish_after_commit(session: Session, bus: EventBus | None, published: Event) -> None:
    if bus is not None:
        session.info.setdefault(PENDING, []).append((bus, published))


@event.listens_for(Session, "after_commit")
def _publish_pending(session: Session) -> None:
    for bus, published in session.info.pop(PENDING, []):
        bus.publish(published)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING, None)
