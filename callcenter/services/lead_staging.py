"""Writing a chunk of parsed leads set-based, through a staging table.

The chunk's rows are loaded into a temporary table in one go (COPY on
PostgreSQL, one executemany on SQLite), and a few statements do the rest
for all of them at once: mark the numbers on a DNC list (and count each as
a call prevented), add the customers not known yet, find the customers
already in the campaign, add the leads and each one's first state change.
No ORM object and no per-row parameter processing: at 100,000 rows those
were most of the import's time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from callcenter.db import UTCDateTime
from callcenter.leadfiles import ParsedLead
from callcenter.models import Customer, DncEntry, DncHit, DncHitSource, Lead, LeadStateChange
from callcenter.models._types import JSONColumn
from callcenter.states import LeadState

rows = Table(
    "lead_import_rows",
    MetaData(),
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("phone_e164", String(20), nullable=False),
    Column("phone2_e164", String(20)),
    Column("title", String(32), nullable=False),
    Column("first_name", String(120), nullable=False),
    Column("last_name", String(120), nullable=False),
    Column("company", String(200), nullable=False),
    Column("email", String(255)),
    Column("address", Text, nullable=False),
    Column("city", String(120), nullable=False),
    Column("locale", String(8), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("fields", Text, nullable=False),  # the lead's fields as JSON text
    Column("blocked", Boolean, nullable=False, server_default=false()),
    prefixes=["TEMPORARY"],
)
"""One row per parsed lead of the chunk; `blocked`: on a DNC list."""

LOADED = [column.name for column in rows.columns if column.name != "blocked"]


@dataclass(frozen=True)
class Written:
    """What became of a chunk's parsed leads."""

    dnc: list[tuple[int, str]]  # (line, phone) of the numbers on a DNC list, by line
    already_in_campaign: list[int]  # lines whose customer has a lead in the campaign
    existing_customers: int  # rows (not on a DNC list) whose number was a known customer
    imported: int  # leads added


def write_leads(
    session: Session,
    leads: Sequence[ParsedLead],
    *,
    campaign_id: int,
    default_timezone: str,
    lead_list_id: int,
    now: datetime,
) -> Written:
    """Customers, leads and their first state change for `leads` (numbers
    unique among them, as the reader dedupes), DNC numbers left out and
    counted. A row added meanwhile by a concurrent import is skipped, not an
    error (ON CONFLICT DO NOTHING)."""
    dialect = session.get_bind().dialect.name
    _load(session, dialect, [_staged(lead, default_timezone) for lead in leads])
    blocked = _mark_blocked(session, campaign_id)
    if blocked:
        session.connection().execute(_dnc_hits(campaign_id, lead_list_id, now))
    wanted = len(leads) - len(blocked)
    if not wanted:
        return Written(dnc=blocked, already_in_campaign=[], existing_customers=0, imported=0)
    added_customers = session.connection().execute(_new_customers(dialect, now)).rowcount
    already = list(session.connection().scalars(_already_in_campaign(campaign_id)))
    imported = _add_leads(session, dialect, campaign_id, lead_list_id, now)
    return Written(
        dnc=blocked,
        already_in_campaign=already,
        existing_customers=wanted - added_customers,
        imported=imported,
    )


def _staged(lead: ParsedLead, default_timezone: str) -> tuple[Any, ...]:
    fields: dict[str, Any] = dict(lead.extra)
    if lead.notes:
        fields["notes"] = lead.notes
    fields["source_line"] = lead.line
    return (
        lead.line,
        lead.phone_e164,
        lead.phone2_e164,
        lead.title[:32],
        lead.first_name[:120],
        lead.last_name[:120],
        lead.company[:200],
        lead.email[:255] if lead.email else None,
        lead.address,
        lead.city[:120],
        lead.locale or "fa",
        lead.timezone or default_timezone,
        lead.priority or 0,
        json.dumps(fields),
    )


def _load(session: Session, dialect: str, staged: list[tuple[Any, ...]]) -> None:
    """The staging table made (once per connection) and emptied, then filled."""
    connection = session.connection()
    connection.execute(CreateTable(rows, if_not_exists=True))
    columns = ", ".join(LOADED)
    if dialect == "postgresql":
        connection.exec_driver_sql(f"TRUNCATE {rows.name}")
        with (
            connection.connection.driver_connection.cursor() as cursor,  # type: ignore[union-attr]
            cursor.copy(f"COPY {rows.name} ({columns}) FROM STDIN") as copy,
        ):
            for row in staged:
                copy.write_row(row)
        return
    connection.execute(delete(rows))
    marks = ", ".join("?" * len(LOADED))
    connection.exec_driver_sql(f"INSERT INTO {rows.name} ({columns}) VALUES ({marks})", staged)


def _mark_blocked(session: Session, campaign_id: int) -> list[tuple[int, str]]:
    on_a_list = exists().where(
        DncEntry.phone_e164 == rows.c.phone_e164,
        or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign_id),
    )
    marked = session.connection().execute(
        update(rows).where(on_a_list).values(blocked=True).returning(rows.c.line, rows.c.phone_e164)
    )
    return sorted((line, phone) for line, phone in marked)


def _dnc_hits(campaign_id: int, lead_list_id: int, now: datetime) -> Any:
    """Each number left out is a call prevented (the compliance report counts them)."""
    found = (
        select(
            literal(campaign_id),
            rows.c.phone_e164,
            literal(DncHitSource.IMPORT.value),
            literal(lead_list_id),
            literal(now, UTCDateTime()),
        )
        .where(rows.c.blocked)
        .order_by(rows.c.line)
    )
    return insert(DncHit).from_select(
        ["campaign_id", "phone_e164", "source", "lead_list_id", "at"], found
    )


_CUSTOMER_COLUMNS = (
    "phone_e164",
    "phone2_e164",
    "title",
    "first_name",
    "last_name",
    "company",
    "email",
    "address",
    "city",
    "locale",
    "timezone",
)


def _new_customers(dialect: str, now: datetime) -> Any:
    found = (
        select(*(rows.c[name] for name in _CUSTOMER_COLUMNS), literal(now, UTCDateTime()))
        .where(~rows.c.blocked)
        .order_by(rows.c.line)
    )
    return _on_conflict_do_nothing(
        dialect, Customer.__table__, [*_CUSTOMER_COLUMNS, "created_at"], found
    )


def _already_in_campaign(campaign_id: int) -> Any:
    return (
        select(rows.c.line)
        .join(Customer, Customer.phone_e164 == rows.c.phone_e164)
        .join(Lead, and_(Lead.customer_id == Customer.id, Lead.campaign_id == campaign_id))
        .where(~rows.c.blocked)
        .order_by(rows.c.line)
    )


def _add_leads(
    session: Session, dialect: str, campaign_id: int, lead_list_id: int, now: datetime
) -> int:
    at = literal(now, UTCDateTime())
    in_campaign = exists().where(Lead.campaign_id == campaign_id, Lead.customer_id == Customer.id)
    found = (
        select(
            literal(campaign_id),
            Customer.id,
            literal(lead_list_id),
            literal(LeadState.NEW.value),
            rows.c.priority,
            literal(0),
            # SQLite stores JSON as the text itself (its CAST AS JSON would make a number).
            cast(rows.c.fields, JSONColumn) if dialect == "postgresql" else rows.c.fields,
            at,
            at,
        )
        .join(Customer, Customer.phone_e164 == rows.c.phone_e164)
        .where(~rows.c.blocked, ~in_campaign)
        .order_by(rows.c.line)
    )
    new_leads = _on_conflict_do_nothing(
        dialect,
        Lead.__table__,
        [
            "campaign_id",
            "customer_id",
            "lead_list_id",
            "state",
            "priority",
            "attempts",
            "fields",
            "created_at",
            "updated_at",
        ],
        found,
    ).returning(Lead.id)
    state_changes = ["lead_id", "to_state", "reason", "at"]
    first_state = (literal(LeadState.NEW.value), literal("imported"), at)
    if dialect == "postgresql":
        added = new_leads.cte("new_leads")
        result = session.connection().execute(
            insert(LeadStateChange)
            .from_select(state_changes, select(added.c.id, *first_state))
            .execution_options(preserve_rowcount=True)
        )
        return result.rowcount
    lead_ids = list(session.connection().scalars(new_leads))
    if lead_ids:
        ids = func.json_each(json.dumps(lead_ids)).table_valued("value")
        session.connection().execute(
            insert(LeadStateChange).from_select(state_changes, select(ids.c.value, *first_state))
        )
    return len(lead_ids)


def _on_conflict_do_nothing(dialect: str, table: Any, columns: list[str], found: Any) -> Any:
    """INSERT ... SELECT ... ON CONFLICT DO NOTHING: a row another import
    added meanwhile is skipped rather than failing the chunk."""
    statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return (
        statement.from_select(columns, found)
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)
    )
