"""Pushing to browsers: queued on the database session and sent only after
it commits, so a browser never sees a change that was rolled back."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

PENDING = "pending_emits"
BROADCASTER = "broadcaster"


class Broadcaster(Protocol):
    def emit(self, event: str, data: Any, *, to: str, namespace: str = "/") -> None: ...


def emit_after_commit(
    session: Session, event_name: str, data: Any, *, room: str, namespace: str = "/"
) -> None:
    session.info.setdefault(PENDING, []).append((event_name, data, room, namespace))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released; the real commit is still to come
    pending = session.info.pop(PENDING, [])
    broadcaster: Broadcaster | None = session.info.get(BROADCASTER)
    if broadcaster is None:
        return
    for event_name, data, room, namespace in pending:
        broadcaster.emit(event_name, data, to=room, namespace=namespace)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only a SAVEPOINT: what was queued before it still stands
    session.info.pop(PENDING, None)
