"""The pause codes managers keep: label in both languages, time limit,
paid or unpaid, order in the agent's menu, active or not. A code is never
deleted (agents' state history names it); it is deactivated instead."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.errors import N_, Conflict, NotFound
from callcenter.models import PauseReason, User
from callcenter.services import audit
from callcenter.services.code_fields import (
    checked_code,
    checked_flag,
    checked_label,
    checked_minutes,
)

MAX_LIMIT_MINUTES = 480


def all_codes(session: Session) -> list[PauseReason]:
    """Every code a manager edits (the product's own system codes are left out)."""
    query = (
        select(PauseReason)
        .where(PauseReason.is_system.is_(False))
        .order_by(PauseReason.position, PauseReason.code)
    )
    return list(session.scalars(query))


def get(session: Session, code: Any) -> PauseReason:
    reason = session.get(PauseReason, str(code or ""))
    if reason is None or reason.is_system:
        raise NotFound(N_("No pause code %(code)s."), code=str(code or "")[:40])
    return reason


def create(session: Session, *, actor: User | None, **values: Any) -> PauseReason:
    code = checked_code(values.get("code"))
    if session.get(PauseReason, code) is not None:
        raise Conflict(N_("The pause code %(code)s exists already."), code=code)
    last = session.scalar(select(func.max(PauseReason.position))) or 0
    reason = PauseReason(code=code, position=last + 1, is_active=True, is_system=False)
    _apply(reason, values)
    session.add(reason)
    session.flush()
    audit.record(
        session,
        "pause_code.created",
        actor=actor,
        target_type="pause_code",
        target_id=code,
        details=_facts(reason),
    )
    return reason


def update(session: Session, code: Any, *, actor: User | None, **values: Any) -> PauseReason:
    reason = get(session, code)
    before = _facts(reason)
    _apply(reason, values)
    session.flush()
    _audit_change(session, reason, before, actor)
    return reason


def set_active(session: Session, code: Any, active: bool, *, actor: User | None) -> PauseReason:
    reason = get(session, code)
    if not active and reason.is_active and len([r for r in all_codes(session) if r.is_active]) == 1:
        raise Conflict(
            N_("%(code)s is the last active pause code: agents could not pause at all."),
            code=reason.code,
        )
    before = _facts(reason)
    reason.is_active = active
    session.flush()
    _audit_change(session, reason, before, actor)
    return reason


def move(session: Session, code: Any, offset: int, *, actor: User | None) -> list[PauseReason]:
    """Move a code up (-1) or down (+1) in the agent's menu."""
    codes = all_codes(session)
    reason = get(session, code)
    index = codes.index(reason)
    target = max(0, min(len(codes) - 1, index + offset))
    codes.insert(target, codes.pop(index))
    for position, each in enumerate(codes):
        each.position = position
    session.flush()
    audit.record(
        session,
        "pause_code.moved",
        actor=actor,
        target_type="pause_code",
        target_id=reason.code,
        details={"order": [each.code for each in codes]},
    )
    return codes


def _apply(reason: PauseReason, values: dict[str, Any]) -> None:
    reason.label_fa = checked_label(values.get("label_fa"), "label_fa")
    reason.label_en = checked_label(values.get("label_en"), "label_en")
    reason.limit_minutes = checked_minutes(
        values.get("limit_minutes"), "limit_minutes", maximum=MAX_LIMIT_MINUTES
    )
    reason.is_paid = checked_flag(values.get("is_paid"))


def _facts(reason: PauseReason) -> dict[str, Any]:
    return {
        "label_fa": reason.label_fa,
        "label_en": reason.label_en,
        "limit_minutes": reason.limit_minutes,
        "is_paid": reason.is_paid,
        "is_active": reason.is_active,
    }


def _audit_change(
    session: Session, reason: PauseReason, before: dict[str, Any], actor: User | None
) -> None:
    after = _facts(reason)
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        audit.record(
            session,
            "pause_code.changed",
            actor=actor,
            target_type="pause_code",
            target_id=reason.code,
            details=changes,
        )
