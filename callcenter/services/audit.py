"""The audit log: who did what to what, from where."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from callcenter.models import AuditEntry, User


def record(
    session: Session,
    action: str,
    *,
    actor: User | None,
    target_type: str | None = None,
    target_id: object = None,
    details: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        action=action,
        actor_id=actor.id if actor is not None else None,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details or {},
        ip_address=ip_address,
    )
    session.add(entry)
    session.flush()
    return entry
