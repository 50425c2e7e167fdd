"""The audit log: who did what to what, from where."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.errors import N_
from callcenter.models import AuditEntry, User

# What the audit viewer calls each kind of object (msgids; translated when
# shown). A type missing here is shown as it is stored.
TARGET_LABELS: dict[str, str] = {
    "api_token": N_("API token"),
    "appointment": N_("Appointment"),
    "calendar_feed": N_("Calendar feed"),
    "call": N_("Call"),
    "callback": N_("Callback"),
    "campaign": N_("Campaign"),
    "customer": N_("Customer"),
    "dnc_entry": N_("Do-not-call entry"),
    "lead": N_("Lead"),
    "lead_list": N_("Lead list"),
    "pause_code": N_("Pause code"),
    "report": N_("Report"),
    "script_version": N_("Script version"),
    "team": N_("Team"),
    "user": N_("User"),
    "webhook": N_("Webhook"),
}


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


PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilter:
    """What the viewer asks for; every field is optional. `action` matches a
    prefix ("lead_list." finds every list action); `until` is exclusive."""

    actor_username: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    actor_username: str | None
    actor_name: str | None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    pages: int


def search(
    session: Session, wanted: AuditFilter, *, page: int = 1, page_size: int = PAGE_SIZE
) -> AuditPage:
    """The entries that match, newest first, one page of them."""
    conditions: list[Any] = []
    if wanted.actor_username:
        conditions.append(func.lower(User.username) == wanted.actor_username.strip().lower())
    if wanted.action:
        conditions.append(AuditEntry.action.startswith(wanted.action.strip(), autoescape=True))
    if wanted.target_type:
        conditions.append(AuditEntry.target_type == wanted.target_type)
    if wanted.target_id:
        conditions.append(AuditEntry.target_id == wanted.target_id.strip())
    if wanted.since is not None:
        conditions.append(AuditEntry.at >= wanted.since)
    if wanted.until is not None:
        conditions.append(AuditEntry.at < wanted.until)
    base = select(AuditEntry, User.username, User.full_name).outerjoin(
        User, User.id == AuditEntry.actor_id
    )
    total = session.scalar(
        select(func.count(AuditEntry.id))
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(*conditions)
    )
    total = int(total or 0)
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    query = (
        base.where(*conditions)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    rows = [AuditRow(entry, username, name) for entry, username, name in session.execute(query)]
    return AuditPage(rows=rows, total=total, page=page, pages=pages)


def target_types(session: Session) -> list[str]:
    query = select(AuditEntry.target_type).where(AuditEntry.target_type.is_not(None)).distinct()
    return sorted(value for value in session.scalars(query) if value)
