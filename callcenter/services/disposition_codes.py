"""Each campaign's dispositions: label in both languages, a category that
says what the code does to the lead (`lead_lifecycle.settle_attempt`),
minutes until a retry, order in the agent's wrap-up, active or not. A new
campaign starts with the product's defaults. A code a call used is never
deleted (reports show its label); it is deactivated instead."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select
from sqlalchemy.orm import Session

from callcenter.errors import N_, Conflict, InvalidInput, NotFound
from callcenter.models import Call, Campaign, CampaignDisposition, Disposition, User
from callcenter.models import DispositionCode as Code
from callcenter.services import audit
from callcenter.services.code_fields import (
    checked_code,
    checked_label,
    checked_minutes,
)
from callcenter.states import DispositionCategory as Category

MAX_RETRY_MINUTES = 60 * 24 * 30

DEFAULTS: tuple[tuple[str, str, str, Category], ...] = (
    # code, label_fa, label_en, category (the codes the product used before they were configurable)
    (Code.APPOINTMENT_SET, "قرار ملاقات گذاشته شد", "Appointment set", Category.APPOINTMENT),
    (Code.SALE, "فروش", "Sale", Category.SALE),
    (Code.CALLBACK, "تماس مجدد", "Callback", Category.CALLBACK),
    (Code.NO_DECISION, "بدون تصمیم", "No decision", Category.RETRY),
    (Code.NOT_INTERESTED, "علاقه‌ای ندارد", "Not interested", Category.FINAL),
    (Code.WRONG_NUMBER, "شمارهٔ اشتباه", "Wrong number", Category.FINAL),
    (Code.DO_NOT_CALL, "تماس نگیرید", "Do not call", Category.DNC),
    (Code.ANSWERING_MACHINE, "پیغام‌گیر", "Answering machine", Category.RETRY),
)
RESERVED = frozenset({Code.WRAP_UP_TIMEOUT.value})
"""Set by the server only: no campaign may define it."""


@dataclass(frozen=True)
class ChosenDisposition:
    """What settling a lead needs to know of a disposition."""

    code: str
    category: Category
    retry_minutes: int | None = None


WRAP_UP_TIMEOUT = ChosenDisposition(Code.WRAP_UP_TIMEOUT.value, Category.RETRY)
_DEFAULT_CATEGORY = {code: category for code, _fa, _en, category in DEFAULTS}


def built_in(code: Code) -> ChosenDisposition:
    """One of the product's default codes as it is seeded (tools and tests)."""
    if code is Code.WRAP_UP_TIMEOUT:
        return WRAP_UP_TIMEOUT
    return ChosenDisposition(code.value, _DEFAULT_CATEGORY[code])


def seed_defaults(session: Session, campaign: Campaign) -> list[CampaignDisposition]:
    """Give a campaign the default dispositions it lacks."""
    assert campaign.id is not None
    have = set(
        session.scalars(
            select(CampaignDisposition.code).where(CampaignDisposition.campaign_id == campaign.id)
        )
    )
    added = [
        CampaignDisposition(
            campaign_id=campaign.id,
            code=str(code),
            label_fa=label_fa,
            label_en=label_en,
            category=category,
            position=position,
            is_active=True,
        )
        for position, (code, label_fa, label_en, category) in enumerate(DEFAULTS)
        if code not in have
    ]
    session.add_all(added)
    session.flush()
    return added


def for_campaign(
    session: Session, campaign_id: int, *, active_only: bool = False
) -> list[CampaignDisposition]:
    query = select(CampaignDisposition).where(CampaignDisposition.campaign_id == campaign_id)
    if active_only:
        query = query.where(CampaignDisposition.is_active.is_(True))
    order = (CampaignDisposition.position, CampaignDisposition.id)
    return list(session.scalars(query.order_by(*order)))


def for_campaigns(
    session: Session, campaign_ids: Iterable[int]
) -> dict[int, list[CampaignDisposition]]:
    """The active codes of each campaign, in the agent's order."""
    return {
        campaign_id: for_campaign(session, campaign_id, active_only=True)
        for campaign_id in campaign_ids
    }


ACTIVE_CODE_OF_CALL = and_(
    CampaignDisposition.campaign_id == Call.campaign_id,
    CampaignDisposition.code == bindparam("code"),
    CampaignDisposition.is_active.is_(True),
)
"""An agent's choice, an active code of the call's campaign, as a join
condition from `calls` (the code a bind parameter `code`)."""


def chosen_from(row: CampaignDisposition | None) -> ChosenDisposition:
    """An agent's choice from the code's row as read (None: no such active code)."""
    if row is None:
        raise InvalidInput(N_("Choose a disposition."), details={"field": "code"})
    return ChosenDisposition(row.code, row.category, row.retry_minutes)


def get(session: Session, campaign_id: int, code: Any) -> CampaignDisposition:
    row = session.scalar(
        select(CampaignDisposition).where(
            CampaignDisposition.campaign_id == campaign_id,
            CampaignDisposition.code == str(code or ""),
        )
    )
    if row is None:
        raise NotFound(N_("The campaign has no disposition %(code)s."), code=str(code or "")[:40])
    return row


def create(
    session: Session, campaign: Campaign, *, actor: User | None, **values: Any
) -> CampaignDisposition:
    code = checked_code(values.get("code"))
    if code in RESERVED:
        raise InvalidInput(
            N_("%(code)s is set by the server only; choose another code."),
            code=code,
            details={"field": "code"},
        )
    if session.scalar(
        select(CampaignDisposition.id).where(
            CampaignDisposition.campaign_id == campaign.id, CampaignDisposition.code == code
        )
    ):
        raise Conflict(N_("The campaign has a disposition %(code)s already."), code=code)
    last = session.scalar(
        select(func.max(CampaignDisposition.position)).where(
            CampaignDisposition.campaign_id == campaign.id
        )
    )
    row = CampaignDisposition(
        campaign_id=campaign.id, code=code, position=(last or 0) + 1, is_active=True
    )
    _apply(row, values)
    session.add(row)
    session.flush()
    _audit(session, "disposition_code.created", row, _facts(row), actor)
    return row


def update(
    session: Session, campaign_id: int, code: Any, *, actor: User | None, **values: Any
) -> CampaignDisposition:
    row = get(session, campaign_id, code)
    before = _facts(row)
    _apply(row, values)
    session.flush()
    _audit_change(session, row, before, actor)
    return row


def set_active(
    session: Session, campaign_id: int, code: Any, active: bool, *, actor: User | None
) -> CampaignDisposition:
    row = get(session, campaign_id, code)
    if (
        not active
        and row.is_active
        and len(for_campaign(session, campaign_id, active_only=True)) == 1
    ):
        raise Conflict(
            N_(
                "%(code)s is the campaign's last active disposition: agents could not close a call."
            ),
            code=row.code,
        )
    before = _facts(row)
    row.is_active = active
    session.flush()
    _audit_change(session, row, before, actor)
    return row


def used_codes(session: Session, campaign_id: int) -> set[str]:
    """The codes calls of the campaign already have (these are never deleted)."""
    query = (
        select(Disposition.code)
        .join(Call, Call.id == Disposition.call_id)
        .where(Call.campaign_id == campaign_id)
        .distinct()
    )
    return set(session.scalars(query))


def in_use(session: Session, campaign_id: int, code: str) -> bool:
    query = exists().where(
        Disposition.code == code, Call.id == Disposition.call_id, Call.campaign_id == campaign_id
    )
    return bool(session.scalar(select(query)))


def delete(session: Session, campaign_id: int, code: Any, *, actor: User | None) -> None:
    """Only a code no call used (a typo just added); otherwise deactivate it."""
    row = get(session, campaign_id, code)
    if row.is_active and len(for_campaign(session, campaign_id, active_only=True)) == 1:
        raise Conflict(
            N_(
                "%(code)s is the campaign's last active disposition: agents could not close a call."
            ),
            code=row.code,
        )
    if in_use(session, campaign_id, row.code):
        raise Conflict(
            N_("Calls already have the disposition %(code)s: deactivate it instead."),
            code=row.code,
        )
    _audit(session, "disposition_code.deleted", row, _facts(row), actor)
    session.delete(row)
    session.flush()


def move(
    session: Session, campaign_id: int, code: Any, offset: int, *, actor: User | None
) -> list[CampaignDisposition]:
    """Move a code up (-1) or down (+1) in the agent's wrap-up list."""
    rows = for_campaign(session, campaign_id)
    row = get(session, campaign_id, code)
    index = rows.index(row)
    target = max(0, min(len(rows) - 1, index + offset))
    rows.insert(target, rows.pop(index))
    for position, each in enumerate(rows):
        each.position = position
    session.flush()
    _audit(session, "disposition_code.moved", row, {"order": [r.code for r in rows]}, actor)
    return rows


def labels(
    session: Session, campaign_ids: Iterable[int] | None = None
) -> dict[tuple[int, str], tuple[str, str]]:
    """(campaign_id, code) -> (label_fa, label_en), for reports and exports."""
    query = select(
        CampaignDisposition.campaign_id,
        CampaignDisposition.code,
        CampaignDisposition.label_fa,
        CampaignDisposition.label_en,
    )
    if campaign_ids is not None:
        query = query.where(CampaignDisposition.campaign_id.in_(list(campaign_ids)))
    return {(row[0], row[1]): (row[2], row[3]) for row in session.execute(query)}


def _apply(row: CampaignDisposition, values: dict[str, Any]) -> None:
    row.label_fa = checked_label(values.get("label_fa"), "label_fa")
    row.label_en = checked_label(values.get("label_en"), "label_en")
    try:
        row.category = Category(str(values.get("category") or ""))
    except ValueError:
        raise InvalidInput(
            N_("Choose what the disposition does to the lead."), details={"field": "category"}
        ) from None
    minutes = checked_minutes(
        values.get("retry_minutes"), "retry_minutes", maximum=MAX_RETRY_MINUTES
    )
    row.retry_minutes = minutes if row.category is Category.RETRY else None


def _facts(row: CampaignDisposition) -> dict[str, Any]:
    return {
        "label_fa": row.label_fa,
        "label_en": row.label_en,
        "category": str(row.category),
        "retry_minutes": row.retry_minutes,
        "is_active": row.is_active,
    }


def _audit(
    session: Session,
    action: str,
    row: CampaignDisposition,
    details: dict[str, Any],
    actor: User | None,
) -> None:
    audit.record(
        session,
        action,
        actor=actor,
        target_type="campaign",
        target_id=row.campaign_id,
        details={"code": row.code, **details},
    )


def _audit_change(
    session: Session, row: CampaignDisposition, before: dict[str, Any], actor: User | None
) -> None:
    after = _facts(row)
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        _audit(session, "disposition_code.changed", row, changes, actor)
