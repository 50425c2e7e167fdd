"""Run one export: read in its own session (the web request's session has
committed and closed before a streamed body is sent), write chunks, and
record who exported what, with which filters and how many rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callcenter.db import Database, utcnow
from callcenter.errors import N_, InvalidInput
from callcenter.models import User
from callcenter.services import audit
from callcenter.services.exports.tables import EXPORT_KINDS, build_sheets
from callcenter.services.exports.writers import RowCounter, csv_chunks, xlsx_chunks
from callcenter.services.reports.filters import ReportFilters

EXPORT_FORMATS = ("csv", "xlsx")
AUDIT_ACTION = "report.exported"
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class InvalidExport(InvalidInput):
    error_id = "export-invalid"


@dataclass
class Export:
    kind: str
    format: str
    filename: str
    mimetype: str
    chunks: Iterator[bytes]


def start_export(
    database: Database,
    *,
    kind: str,
    fmt: str,
    filters: ReportFilters,
    locale: str,
    actor_id: int | None,
    ip_address: str | None = None,
    via: str = "web",
) -> Export:
    """Check the request now; the work happens as `chunks` is consumed."""
    if kind not in EXPORT_KINDS:
        raise InvalidExport(N_("unknown export '%(kind)s'"), details={"field": "kind"}, kind=kind)
    if fmt not in EXPORT_FORMATS:
        raise InvalidExport(
            N_("unknown format '%(format)s'"), details={"field": "format"}, format=fmt
        )
    context = {
        "kind": kind,
        "format": fmt,
        "filters": filters.to_dict(),
        "locale": locale,
        "via": via,
        "actor_id": actor_id,
        "ip_address": ip_address,
    }
    return Export(
        kind=kind,
        format=fmt,
        filename=export_filename(kind, fmt, filters, utcnow()),
        mimetype=MIMETYPES[fmt],
        chunks=_run(database, kind, fmt, filters, locale, context),
    )


def export_filename(kind: str, fmt: str, filters: ReportFilters, now: datetime) -> str:
    span = "-".join(d.isoformat() for d in (filters.date_from, filters.date_to) if d is not None)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    return f"{kind}-{span or 'all'}-{stamp}.{fmt}"


def _run(
    database: Database,
    kind: str,
    fmt: str,
    filters: ReportFilters,
    locale: str,
    context: dict[str, Any],
) -> Iterator[bytes]:
    counter = RowCounter()
    complete = False
    try:
        with database.read_sessions() as session:
            sheets = build_sheets(session, kind, filters, locale)
            if fmt == "csv":
                chunks = csv_chunks(sheets, counter, titles=kind != "calls")
            else:
                chunks = xlsx_chunks(sheets, counter, right_to_left=locale == "fa")
            for chunk in chunks:
                yield chunk
                # Under the gevent worker this lets the process's other
                # greenlets (every held socket, other pages) run between
                # chunks; in a thread it only gives the GIL away.
                time.sleep(0)
        complete = True
    finally:
        _record(database, context, counter.rows, complete)


def _record(database: Database, context: dict[str, Any], rows: int, complete: bool) -> None:
    with database.unit_of_work() as session:
        actor_id = context["actor_id"]
        actor = session.get(User, actor_id) if actor_id is not None else None
        audit.record(
            session,
            AUDIT_ACTION,
            actor=actor,
            target_type="report",
            target_id=context["kind"],
            details={
                "kind": context["kind"],
                "format": context["format"],
                "filters": context["filters"],
                "locale": context["locale"],
                "via": context["via"],
                "rows": rows,
                "complete": complete,
            },
            ip_address=context["ip_address"],
        )
