"""Do-not-call lists: one global list (campaign_id NULL) and one per campaign.

Checked when leads are imported (`lead_staging`, set-based, counting each
number left out as a DncHit) and again at the moment of dialing
(`lead_lifecycle.claim_attempt`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.errors import N_, InvalidInput, NotFound
from callcenter.leadfiles import InvalidPhone, normalize_phone, to_ascii_digits
from callcenter.models import Campaign, Customer, DncEntry, DncHit, DncHitSource, Lead, User
from callcenter.services import audit
from callcenter.services.exports.cells import csv_row

CHUNK = 1000
EXPORT_COLUMNS = ("phone", "campaign", "source", "reason", "added_at")
T = TypeVar("T")


def add_number(
    session: Session,
    phone_e164: str,
    *,
    campaign_id: int | None,
    source: str,
    reason: str,
    actor_id: int | None,
) -> DncEntry:
    """Put a number on the global list (campaign_id None) or a campaign's list.
    Idempotent: an existing entry is returned unchanged."""
    phone = _valid(phone_e164)
    existing = _find(session, phone, campaign_id)
    if existing is not None:
        return existing
    entry = DncEntry(
        phone_e164=phone,
        campaign_id=campaign_id,
        source=source[:32],
        reason=reason[:255],
        added_by_id=actor_id,
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:
        # Someone added it between our look-up and insert.
        found = _find(session, phone, campaign_id)
        if found is None:
            raise
        return found
    actor = session.get(User, actor_id) if actor_id is not None else None
    audit.record(
        session,
        "dnc.added",
        actor=actor,
        target_type="dnc_entry",
        target_id=entry.id,
        details={"phone": phone, "campaign_id": campaign_id, "source": source},
    )
    return entry


def remove_number(
    session: Session, phone_e164: str, *, campaign_id: int | None, actor_id: int | None
) -> None:
    entry = _find(session, _valid(phone_e164), campaign_id)
    if entry is None:
        raise NotFound(N_("number is not on that list"), details={"phone": phone_e164})
    session.delete(entry)
    actor = session.get(User, actor_id) if actor_id is not None else None
    audit.record(
        session,
        "dnc.removed",
        actor=actor,
        target_type="dnc_entry",
        target_id=entry.id,
        details={"phone": entry.phone_e164, "campaign_id": campaign_id},
    )
    session.flush()


def is_blocked(session: Session, phone_e164: str, campaign_id: int) -> bool:
    """Whether the number is on the global list or this campaign's list."""
    query = select(DncEntry.id).where(
        DncEntry.phone_e164 == phone_e164,
        or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign_id),
    )
    return session.scalar(query.limit(1)) is not None


def blocked_among(session: Session, phones: Sequence[str], campaign_id: int) -> set[str]:
    """Those of these numbers on the global list or this campaign's list."""
    if not phones:
        return set()
    query = select(DncEntry.phone_e164).where(
        DncEntry.phone_e164.in_(phones),
        or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign_id),
    )
    return set(session.scalars(query))


def count_refused_dial(session: Session, lead_id: int, *, now: datetime) -> None:
    """A dial refused at the last check because the number is on a DNC list."""
    row = session.execute(
        select(Lead.campaign_id, Customer.phone_e164)
        .join(Customer, Customer.id == Lead.customer_id)
        .where(Lead.id == lead_id)
    ).one_or_none()
    if row is None:
        return
    campaign_id, phone = row
    session.add(
        DncHit(
            campaign_id=campaign_id,
            phone_e164=phone,
            source=DncHitSource.CLAIM,
            lead_id=lead_id,
            at=now,
        )
    )
    session.flush()


def list_entries(
    session: Session, *, campaign_id: int | None, limit: int | None = None, offset: int = 0
) -> list[DncEntry]:
    query = select(DncEntry).where(_scope(campaign_id)).order_by(DncEntry.created_at.desc())
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(session.scalars(query))


def count_entries(session: Session, *, campaign_id: int | None) -> int:
    return session.scalar(select(func.count(DncEntry.id)).where(_scope(campaign_id))) or 0


@dataclass
class DncImportResult:
    added: int = 0
    already_listed: int = 0
    rejected: list[dict[str, object]] = field(default_factory=list)


def import_csv(
    session: Session,
    text: str,
    *,
    campaign_id: int | None,
    source: str,
    actor_id: int | None,
    region: str = "IR",
) -> DncImportResult:
    """Add every number in the first column (or a column named phone/تلفن/
    موبایل) of a CSV; a header row is optional. Bad rows are reported by line,
    good ones are added; reasons come from an optional `reason` column."""
    if campaign_id is not None and session.get(Campaign, campaign_id) is None:
        raise NotFound(N_("no such campaign"), details={"campaign_id": campaign_id})
    result = DncImportResult()
    wanted: dict[str, str] = {}
    for line, phone_cell, reason in _csv_rows(text):
        try:
            phone = normalize_phone(phone_cell, region).e164
        except InvalidPhone as exc:
            result.rejected.append(
                {
                    "line": line,
                    "value": phone_cell[:60],
                    "reason": exc.reason,
                    "text": exc.text,
                    "params": exc.params,
                }
            )
            continue
        if phone in wanted:
            result.already_listed += 1
            continue
        wanted[phone] = reason
    existing: set[str] = set()
    for chunk in _chunks(list(wanted), CHUNK):
        query = select(DncEntry.phone_e164).where(
            DncEntry.phone_e164.in_(chunk), _scope(campaign_id)
        )
        existing.update(session.scalars(query))
    new_rows = [
        {
            "phone_e164": phone,
            "campaign_id": campaign_id,
            "source": source[:32],
            "reason": reason[:255],
            "added_by_id": actor_id,
        }
        for phone, reason in wanted.items()
        if phone not in existing
    ]
    for rows in _chunks(new_rows, CHUNK):
        session.execute(insert(DncEntry), rows)
    result.added = len(new_rows)
    result.already_listed += len(existing)
    actor = session.get(User, actor_id) if actor_id is not None else None
    audit.record(
        session,
        "dnc.imported",
        actor=actor,
        target_type="campaign" if campaign_id is not None else "dnc",
        target_id=campaign_id,
        details={
            "added": result.added,
            "already_listed": result.already_listed,
            "rejected": len(result.rejected),
        },
    )
    session.flush()
    return result


def export_csv(session: Session, *, campaign_id: int | None) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    names = dict(session.execute(select(Campaign.id, Campaign.name)).tuples().all())
    for entry in list_entries(session, campaign_id=campaign_id):
        writer.writerow(
            csv_row(
                [
                    entry.phone_e164,
                    names.get(entry.campaign_id, "") if entry.campaign_id else "",
                    entry.source,
                    entry.reason,
                    entry.created_at.isoformat(),
                ]
            )
        )
    return out.getvalue()


_PHONE_HEADERS = {"phone", "phone_e164", "number", "mobile", "تلفن", "موبایل", "شماره", "همراه"}


def _csv_rows(text: str) -> Iterator[tuple[int, str, str]]:
    """(line, phone cell, reason) per non-blank row; skips a header row."""
    text = text.lstrip("\ufeff")
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    phone_col, reason_col = 0, None
    for index, row in enumerate(reader, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        keys = [to_ascii_digits(cell).lower() for cell in cells]
        if index == 1 and any(key in _PHONE_HEADERS for key in keys):
            phone_col = next(i for i, key in enumerate(keys) if key in _PHONE_HEADERS)
            reason_col = next((i for i, key in enumerate(keys) if key in {"reason", "دلیل"}), None)
            continue
        phone = cells[phone_col] if phone_col < len(cells) else ""
        reason = cells[reason_col] if reason_col is not None and reason_col < len(cells) else ""
        yield reader.line_num, phone, reason


def _valid(phone_e164: str) -> str:
    try:
        return normalize_phone(phone_e164).e164
    except InvalidPhone as exc:
        raise InvalidInput(exc.text, details={"field": "phone"}, **exc.params) from None


def _find(session: Session, phone: str, campaign_id: int | None) -> DncEntry | None:
    query = select(DncEntry).where(DncEntry.phone_e164 == phone, _scope(campaign_id))
    return session.scalar(query)


def _scope(campaign_id: int | None) -> ColumnElement[bool]:
    if campaign_id is None:
        return DncEntry.campaign_id.is_(None)
    return DncEntry.campaign_id == campaign_id


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
