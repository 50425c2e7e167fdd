"""Exports read back with the csv module and openpyxl, on SQLite and
PostgreSQL, and each one in the audit log."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import AuditEntry
from callcenter.services.exports import InvalidExport, start_export
from callcenter.services.reports import ReportFilters
from tests.integration.reports.report_dataset import Dataset, build


@pytest.fixture
def data(database: Database) -> Dataset:
    with database.unit_of_work() as session:
        return build(session)


def run(
    database: Database,
    kind: str,
    fmt: str,
    filters: ReportFilters,
    locale: str = "en",
    actor_id: int | None = None,
) -> bytes:
    export = start_export(
        database, kind=kind, fmt=fmt, filters=filters, locale=locale, actor_id=actor_id
    )
    return b"".join(export.chunks)


def audits(database: Database) -> list[AuditEntry]:
    with database.sessions() as session:
        return list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == "report.exported"))
        )


def test_call_records_csv(database: Database, data: Dataset, span: ReportFilters) -> None:
    body = run(database, "calls", "csv", span, actor_id=data.users["boss"].id)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header, records = rows[0], rows[1:]
    assert header[:3] == ["Call ID", "Campaign", "Lead list"]
    assert "Dialed (Jalali)" in header and "Dialed (Gregorian)" in header
    assert len(records) == 11
    by_id = {row[0]: dict(zip(header, row, strict=True)) for row in records}
    k7 = by_id[data.calls["k7"].id]
    assert (k7["Dialed (Jalali)"], k7["Dialed (Gregorian)"], k7["Dialed time"]) == (
        "1404/02/20", "2025-05-10", "23:59:30",
    )  # fmt: skip
    assert (k7["Talk (s)"], k7["Rejected at step"], k7["Rejection reason"]) == (
        "200",
        "2",
        "already_supplier",
    )
    k4 = by_id[data.calls["k4"].id]
    assert (k4["Agent"], k4["Outcome"], k4["Live answer"]) == ("", "Abandoned", "yes")
    assert by_id[data.calls["k5"].id]["Live answer"] == "no"  # a machine
    [entry] = audits(database)
    assert entry.actor_id == data.users["boss"].id
    assert entry.details["rows"] == 11 and entry.details["complete"] is True
    assert entry.details["filters"]["from"] == "2025-05-10"
    assert (entry.details["kind"], entry.details["format"]) == ("calls", "csv")


def test_call_records_xlsx_in_persian(
    database: Database, data: Dataset, span: ReportFilters
) -> None:
    body = run(database, "calls", "xlsx", span, locale="fa")
    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "شناسه تماس"
    assert "تاریخ شماره‌گیری (شمسی)" in rows[0]
    assert len(rows) == 12
    ids = {row[0] for row in rows[1:]}
    assert ids == {call.id for name, call in data.calls.items() if name not in ("k12", "k13")}
    assert audits(database)[0].details["rows"] == 11


def test_report_exports_match_the_report(
    database: Database, data: Dataset, span: ReportFilters
) -> None:
    body = run(database, "rejections", "csv", span)
    text = body.decode("utf-8-sig")
    sections = [block.splitlines() for block in text.split("\r\n\r\n")]
    titles = [block[0] for block in sections]
    assert titles[:2] == ["Rejections by step", "Rejections by step and reason"]
    steps = list(csv.reader(sections[0][1:]))
    assert steps[0] == [
        "Step",
        "Step title",
        "Calls that reached it",
        "Rejections",
        "Rejection rate (%)",
    ]
    assert steps[1] == ["1", "", "6", "1", "16.67"]
    book = openpyxl.load_workbook(io.BytesIO(run(database, "funnel", "xlsx", span)), read_only=True)
    funnel = list(book.worksheets[0].iter_rows(values_only=True))
    assert funnel[1] == ("Dials", 11, None, 100.0)
    assert funnel[2] == ("Live answers", 7, 63.64, 63.64)
    by_date = list(book.worksheets[3].iter_rows(values_only=True))
    assert by_date[0][:2] == ("Date (Jalali)", "Date (Gregorian)")
    assert by_date[1][:4] == ("1404/02/20", "2025-05-10", "Dials", 7)
    agents = list(csv.reader(io.StringIO(run(database, "agents", "csv", span).decode("utf-8-sig"))))
    header = agents[1]
    a1 = dict(zip(header, next(row for row in agents if row and row[0] == "Agent a1"), strict=True))
    assert (a1["Calls"], a1["Talk (s)"], a1["Pause: Lunch (s)"], a1["Occupancy (%)"]) == (
        "3",
        "180",
        "3600",
        "3.19",
    )
    compliance = run(database, "compliance", "xlsx", span)
    sheets = openpyxl.load_workbook(io.BytesIO(compliance), read_only=True).worksheets
    summary = list(sheets[1].iter_rows(values_only=True))
    assert summary[1:] == [("C1", 9, 1, 1, 1), ("C2", 2, 1, 1, 0)]
    assert [e.details["kind"] for e in audits(database)] == [
        "rejections",
        "funnel",
        "agents",
        "compliance",
    ]


def test_bad_export_requests_are_refused(database: Database) -> None:
    with pytest.raises(InvalidExport):
        start_export(
            database, kind="secrets", fmt="csv", filters=ReportFilters(), locale="en", actor_id=None
        )
    with pytest.raises(InvalidExport):
        start_export(
            database, kind="calls", fmt="pdf", filters=ReportFilters(), locale="en", actor_id=None
        )
